import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Review 81 finding 5: a write the system refused (a file size limit, a full disk) was reported as bad usage (exit 2,
 * `export --out`), or as a bare `error: disk I/O error` naming no file (`token create` on a fresh folder). These are
 * failures, exit 1 as README's exit codes say, naming the file or folder; usage (2) stays for bad arguments.
 */

const CLI = join(import.meta.dirname, '..', 'bin', 'credence.mjs');
const dirs = tempDirs('credence-write-refused-');
afterAll(dirs.cleanup);

/** `credence <args>` in bash under `ulimit -f <kib>` (bash counts in KiB); asynchronous, as a test's service must answer. */
const limited = async (kib: number, args: readonly string[]): Promise<{ code: number | null; out: string; err: string }> => {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('bash', ['-c', `ulimit -f ${kib}; ${quoted}`], { env: { ...process.env, CREDENCE_URL: '', CREDENCE_TOKEN: '', CREDENCE_DATA: '' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, out, err };
};

const expectOneLine = (err: string): void => {
  expect(err).not.toMatch(/^\s+at /m);
  expect(err.trim().split('\n')).toHaveLength(1);
};

describe('token create on a fresh folder the file size limit stops', () => {
  // 8 KiB: the Secure Environment's database cannot grow (SQLite: disk I/O error); 32 KiB: access.db's first write (EFBIG).
  it.each([8, 32])('under ulimit -f %i: exit 1, naming the data folder and the code', async (kib) => {
    const data = join(dirs.make(), 'data');
    const run = await limited(kib, ['token', 'create', '--data', data, '--role', 'admin', '--subject', 'a', '--ttl', '1h']);
    expect(run.code, run.err).toBe(1);
    expectOneLine(run.err);
    expect(run.err).toMatch(new RegExp(`^error: cannot write the data folder ${data} \\((EFBIG|SQLITE_IOERR\\w*)[):]`));
    expect(run.out).toBe('');
  });
});

describe('export', () => {
  let svc: TestService;
  let closed = false;
  beforeAll(async () => {
    svc = await startTestService({ dir: join(dirs.make(), 'data') });
    const { events } = await svc.service.context.credence.engine.execute(cmd.registerNode('meter-1'));
    if (!(await svc.service.context.live.caughtUp(events.at(-1)!.position, 30_000))) throw new Error('the live runtime did not catch up');
  });
  afterAll(async () => {
    if (!closed) await svc?.close();
  });

  it('a bundle over the file size limit (--server): exit 1 naming the file, nothing left at --out', async () => {
    // Through a server: the CLI writes no database of its own, so the bundle is the first file that meets the limit.
    const out = join(dirs.make(), 'b3.json');
    const run = await limited(1, ['export', 'node-meter-1', '--server', svc.url, '--token', svc.tokens.auditor, '--out', out]);
    expect(run.code, run.err).toBe(1);
    expect(run.err).not.toMatch(/^\s+at /m);
    // After the note that the bundle was checked with its own key only.
    expect(run.err.trim().split('\n').at(-1)).toBe(`error: cannot write ${out} (EFBIG)`);
    expect(existsSync(out)).toBe(false);
  });

  it('an --out in a folder that does not exist is still bad usage (exit 2)', async () => {
    const run = await limited(1024, ['export', 'node-meter-1', '--server', svc.url, '--token', svc.tokens.auditor, '--out', join(dirs.make(), 'no', 'b.json')]);
    expect(run.code, run.err).toBe(2);
  });

  it('a data folder whose databases the limit stops (--data): exit 1 naming the data folder', async () => {
    // Last: the service is stopped first, as a local export needs.
    await svc.close();
    closed = true;
    const run = await limited(8, ['export', 'node-meter-1', '--data', svc.dir, '--out', join(dirs.make(), 'b.json')]);
    expect(run.code, run.err).toBe(1);
    expectOneLine(run.err);
    expect(run.err).toMatch(new RegExp(`^error: cannot write the data folder ${svc.dir} \\(SQLITE_IOERR\\w*: disk I/O error\\)`));
  });
});
