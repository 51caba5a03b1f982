import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Review 331: `--data` given inline was measured in UTF-16 code units against a limit in bytes, so 600,000 `é`
 * (1,200,000 bytes) were sent and refused by the server (413, exit 1) while the same JSON as @file was refused here.
 */

const dirs = tempDirs('credence-inline-json-bytes-');
afterAll(dirs.cleanup);
// Nothing listens here: a command that were sent would be exit 3.
const SERVER = ['--server', 'http://127.0.0.1:59996', '--token', 'x'];
const WIDE = JSON.stringify({ nodeId: 'n1', reason: 'é'.repeat(600_000) });

describe('an inline JSON option over the byte limit', () => {
  it('is refused before sending, as the same JSON in a file is: exit 2, larger than 1048576 bytes', async () => {
    const file = join(dirs.make(), 'wide.json');
    writeFileSync(file, WIDE);
    const fromFile = await runCli(['command', 'revokeNode', '--data', `@${file}`, ...SERVER]);
    expect(fromFile.code, fromFile.err).toBe(2);
    const inline = await runCli(['command', 'revokeNode', '--data', WIDE, ...SERVER]);
    expect(inline.code, inline.err).toBe(2);
    expect(inline.err).toContain('--data: larger than 1048576 bytes');
  });

  it('within the limit in bytes it is read as before', async () => {
    const run = await runCli(['command', 'revokeNode', '--data', JSON.stringify({ nodeId: 'n1', reason: 'é'.repeat(100) }), ...SERVER]);
    expect(run.code, run.err).toBe(3);
  });
});
