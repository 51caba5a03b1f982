/**
 * Review 295 item 1: `--token-file` checked the file's owner and mode only, then read it again by name: a token file in
 * a folder anyone may write (`mkdir -m 777 open`) was used without a word, though README and docs/service.md say it is
 * held "as a --key file is", whose folders are checked all the way up (trusted-file.ts); `--sign-key` alike. Both are now
 * read through the trusted-file reader: the folders above checked, the open descriptor judged (fstat), never opened again
 * by name. A pipe stays usable (a named FIFO, or `<(…)` of the shell), its folders checked too, but a pipe nothing writes
 * to is refused after a bounded wait (it hung for good, --timeout unheeded); a device such as /dev/zero is refused as
 * not a regular file (it was advised `chmod 600 /dev/zero`).
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBearerCountingServer } from './support/bearer-counting-server.ts';
import { runCli } from './support/cli.ts';
import { SIGN_KEY, signKeyRefusal } from './support/sign-key-refusal.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const posix = process.platform !== 'win32';
const scratch = temporaryFolders('credence-token-file-folders-');
const SECRET = 'token-of-this-operator';
const TOKEN = `eyJ.${SECRET}.sig`;

const server = useBearerCountingServer();
const sent = server.sent;

/** A folder `name` of `mode` in a fresh private folder. */
const folder = (name: string, mode: number): string => {
  const dir = join(scratch(), name);
  mkdirSync(dir);
  chmodSync(dir, mode);
  return dir;
};
const tokenIn = (dir: string): string => {
  const path = join(dir, 't');
  writeFileSync(path, `${TOKEN}\n`, { mode: 0o600 });
  return path;
};
const history = (path: string, ...more: string[]) => runCli(['history', 'credential-meter-1-service', '--server', server.url(), '--token-file', path, ...more]);

describe.skipIf(!posix)('a --token-file is held as a --key file is', () => {
  it('in a folder group or others may write: refused (exit 2) naming the folder and its mode, nothing sent', async () => {
    const open = folder('open', 0o777);
    const path = tokenIn(open);
    sent.length = 0;
    const { code, err } = await history(path);
    expect(err).toContain(`error: --token-file: ${path} is in ${open}, which group or others may write (mode 0777): they may put another file in its place; chmod go-w ${open}, or move the file`);
    expect(err).not.toContain(SECRET);
    expect(code).toBe(2);
    expect(sent).toEqual([]);
  });

  it('under such a folder, further up: refused naming it', async () => {
    const open = folder('open', 0o777);
    const mine = join(open, 'mine');
    mkdirSync(mine, { mode: 0o700 });
    const path = tokenIn(mine);
    sent.length = 0;
    const { code, err } = await history(path);
    expect(err).toContain(`error: --token-file: ${path} is under ${open}, which group or others may write (mode 0777)`);
    expect(code).toBe(2);
    expect(sent).toEqual([]);
  });

  it('in a private folder: read and sent as before', async () => {
    const path = tokenIn(folder('mine', 0o700));
    sent.length = 0;
    const { err } = await history(path);
    expect(err).not.toContain('--token-file');
    expect(sent).toEqual([`Bearer ${TOKEN}`]);
  });

  it('/dev/zero: refused as not a regular file, never advised chmod', async () => {
    sent.length = 0;
    const { code, err } = await history('/dev/zero');
    expect(err).toContain('error: --token-file: /dev/zero is not a regular file');
    expect(err).not.toContain('chmod');
    expect(code).toBe(2);
    expect(sent).toEqual([]);
  });

  it('a named pipe in a private folder that a writer fills: read as a file is', async () => {
    const fifo = join(folder('mine', 0o700), 'token.fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const writer = spawn('sh', ['-c', `sleep 0.3; printf '%s\\n' '${TOKEN}' > '${fifo}'`], { stdio: 'ignore' });
    sent.length = 0;
    const { err } = await history(fifo);
    writer.kill();
    expect(err).not.toContain('--token-file');
    expect(sent).toEqual([`Bearer ${TOKEN}`]);
  });

  it('a named pipe in a folder others may write: refused as a file there is', async () => {
    const open = folder('open', 0o777);
    const fifo = join(open, 'token.fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    sent.length = 0;
    const { code, err } = await history(fifo);
    expect(err).toContain(`error: --token-file: ${fifo} is in ${open}, which group or others may write (mode 0777)`);
    expect(code).toBe(2);
    expect(sent).toEqual([]);
  });

  it('a pipe nothing writes to: refused after the --timeout, naming the file, not a hang', async () => {
    const fifo = join(folder('mine', 0o700), 'token.fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    sent.length = 0;
    const started = Date.now();
    const { code, err } = await history(fifo, '--timeout', '1');
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(err).toContain(`error: --token-file: ${fifo} is a pipe nothing wrote a whole token to within 1 s`);
    expect(code).toBe(2);
    expect(sent).toEqual([]);
  }, 10_000);

  it('<(…) of the shell (a pipe under /dev/fd): still read', async () => {
    const secretFile = tokenIn(folder('mine', 0o700));
    const cli = join(import.meta.dirname, '..', 'bin', 'credence.mjs');
    sent.length = 0;
    const answer = await new Promise<{ code: number; err: string }>((resolve) => {
      execFile(
        'bash',
        ['-c', `exec node '${cli}' history credential-meter-1-service --server '${server.url()}' --token-file <(cat '${secretFile}')`],
        { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, timeout: 30_000 },
        (error, _out, err) => resolve({ code: typeof error?.code === 'number' ? error.code : 0, err }),
      );
    });
    expect(answer.err).not.toContain('--token-file');
    expect(sent).toEqual([`Bearer ${TOKEN}`]);
  }, 40_000);
});

describe.skipIf(!posix)('a --sign-key file is held as a --key file is', () => {

  it('in a folder group or others may write: refused naming the folder', () => {
    const open = folder('open', 0o777);
    const path = join(open, 'k.json');
    writeFileSync(path, SIGN_KEY, { mode: 0o600 });
    expect(signKeyRefusal(path)).toBe(`--sign-key: ${path} is in ${open}, which group or others may write (mode 0777): they may put another file in its place; chmod go-w ${open}, or move the file`);
  });

  it('/dev/zero: refused as not a regular file', () => {
    expect(signKeyRefusal('/dev/zero')).toContain('--sign-key: /dev/zero is not a regular file');
  });

  it('in a private folder: read', () => {
    const path = join(folder('mine', 0o700), 'k.json');
    writeFileSync(path, SIGN_KEY, { mode: 0o600 });
    expect(signKeyRefusal(path)).toBe('read');
  });
});
