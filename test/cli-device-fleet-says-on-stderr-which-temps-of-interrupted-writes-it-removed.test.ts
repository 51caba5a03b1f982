import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { deviceCli, leaveStrays, STRAY_CONTENTS, STRAYS } from './support/device-strays.ts';

/*
 * The single-device commands say, one line on stderr, which temps of interrupted writes taking a device folder's lock
 * removed (cli-device-commands-say-on-stderr-which-temps-of-interrupted-writes-they-removed.test.ts). `device fleet`
 * takes the lock of every device folder it opens and said nothing: a `--dir` a killed run left could lose files, a
 * whole KEK among them, unsaid. It now says the same line, once per folder that had any.
 */
const scratch = temporaryFolders('credence-fleet-strays-said-');

const escaped = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

const service = useTestService();

describe('credence device fleet on a folder a killed run left temps of interrupted writes in', () => {
  it('says on stderr, for each device folder that had any, how many it removed and their names; for none, nothing', async () => {
    // Given a fleet folder whose first device's folder (made, not yet initialised) holds two temps of killed writes
    const root = scratch();
    const first = join(root, 'zzs-1');
    mkdirSync(first, { mode: 0o700 });
    leaveStrays(first);

    // When a fleet of three runs in it
    const run = await deviceCli(['fleet', '--count', '3', '--concurrency', '2', '--dir', root, '--prefix', 'zzs', '--server', service.url, '--token', service.tokens.operator]);

    // Then every device went through, and one line of stderr says that folder's sweep, naming both strays
    expect(run.code, run.err.join('\n')).toBe(0);
    const said = run.err.filter((line) => line.includes('interrupted writes'));
    expect(said, run.err.join('\n')).toHaveLength(1);
    expect(said[0]).toMatch(new RegExp(`^credence device fleet: removed 2 temp files interrupted writes had left in ${escaped(first)}: \\S`));
    for (const name of STRAYS) expect(said[0]).toContain(name);
    // And nothing printed holds their contents, nothing on stdout says it, and they are gone
    expect(run.out.some((line) => line.includes('interrupted writes'))).toBe(false);
    expect([...run.out, ...run.err].join('\n')).not.toContain(STRAY_CONTENTS);
    for (const name of STRAYS) expect(readdirSync(first)).not.toContain(name);
  }, 120_000);
});
