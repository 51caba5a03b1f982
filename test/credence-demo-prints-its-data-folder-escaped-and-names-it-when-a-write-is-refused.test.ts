import { basename, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CannotWrite } from '../bin/write-failure.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 373 item 3: the config takes U+202E and other format characters in `data` (only C0 and C1 controls are
 * refused), and `credence demo --data '/tmp/…/demo-\u202egnp.exe'` printed the folder raw in five lines (the terminal
 * showed `demo-exe.png`), where serve's banner escapes it. And a write the system refused (a full disk) met while
 * the demo made its folder was the system's `ENOSPC: …, open '<a temp file>'`, where token and export name the
 * folder (`cannot write the data folder … (ENOSPC)`).
 */
const scratch = temporaryFolders('credence-demo-printable-');

/** While set, making a file whose name starts so fails as on a full disk. */
const disk = vi.hoisted(() => ({ fullFor: '' }));
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const openSync = ((path: import('node:fs').PathLike, flags?: import('node:fs').OpenMode, mode?: import('node:fs').Mode) => {
    const name = String(path).slice(String(path).lastIndexOf('/') + 1);
    if (disk.fullFor !== '' && typeof flags === 'string' && flags.includes('w') && name.startsWith(disk.fullFor)) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, open '${String(path)}'`), { code: 'ENOSPC', syscall: 'open', path: String(path) });
    }
    return fs.openSync(path, flags ?? 'r', mode);
  }) as typeof fs.openSync;
  return { ...fs, openSync, default: { ...fs, openSync } };
});
afterEach(() => {
  disk.fullFor = '';
});

const OVERRIDE = '\u202e';

describe('credence demo on a data folder whose name holds a bidi override', () => {
  it('prints the folder escaped in every line that names it, on an empty store and on one with events', async () => {
    const data = join(scratch(), `demo-${OVERRIDE}gnp.exe`);
    const shown = data.replace(OVERRIDE, '\\u202e');
    const first = await runCli(['demo', '--data', data, '--port', '0', '--log-level', 'silent']);
    expect(first.code, first.err).toBe(0);
    const again = await runCli(['demo', '--data', data, '--port', '0', '--log-level', 'silent']);
    expect(again.code, again.err).toBe(0);
    for (const run of [first, again]) {
      expect(run.out).not.toContain(OVERRIDE);
      expect(run.err).not.toContain(OVERRIDE);
    }
    const named = (text: string): string[] => text.split('\n').filter((line) => line.includes(basename(shown)));
    // The empty store's two lines and the next steps (four commands), then the store with events and its next steps.
    expect(named(first.out).length, first.out).toBeGreaterThanOrEqual(6);
    expect(first.out).toContain(`The store in ${shown} is empty`);
    expect(named(again.out).length, again.out).toBeGreaterThanOrEqual(5);
    expect(again.out).toContain(`The store in ${shown} already holds events`);
  }, 180_000);
});

describe('credence demo meeting a full disk while it makes its folder', () => {
  it('names the data folder and the cause, not the file the system failed on (exit 1, said by the process as `error: …`)', async () => {
    const data = join(scratch(), 'data');
    disk.fullFor = '.secure-environment.kek.';
    const refused = await runCli(['demo', '--data', data, '--port', '0', '--log-level', 'silent']).catch((error: unknown) => error);
    // Thrown past the command as every failure of a write is (bin/cli.ts runProcess: one line, exit 1).
    expect(refused).toBeInstanceOf(CannotWrite);
    expect((refused as Error).message).toBe(`cannot write the data folder ${data} (ENOSPC)`);
  }, 60_000);
});
