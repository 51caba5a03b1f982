/**
 * Review 307 item 1: `--token-file` / `--sign-key` naming an open descriptor whose file has since been removed failed
 * with `cannot read /dev/fd/4: ENOENT`: realpath of /dev/fd/4 is "/x/tok (deleted)", which names nothing. bash before
 * 5.1 (RHEL 8, Ubuntu 20.04) backs a here-doc or here-string with such a file, so `--token-file /dev/stdin <<< "$TOKEN"`,
 * the usual way to keep a token out of `ps`, broke there, as did `exec 3<f; rm f; … --token-file /dev/fd/3`. A path
 * under /dev/fd, /proc/<pid>/fd (or /dev/stdin) names a descriptor: it is opened as given and the descriptor judged by
 * the file's own rules (owner, mode), a removed file having no folder left to check.
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBearerCountingServer } from './support/bearer-counting-server.ts';
import { SIGN_KEY, signKeyRefusal } from './support/sign-key-refusal.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const linux = process.platform === 'linux';
const scratch = temporaryFolders('credence-removed-while-open-');
const SECRET = 'token-of-this-operator';
const TOKEN = `eyJ.${SECRET}.sig`;
const CLI = join(import.meta.dirname, '..', 'bin', 'credence.mjs');
const ENV = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };

const server = useBearerCountingServer();
const sent = server.sent;

/** A file of `text` and `mode` in a fresh private folder, its path. */
const fileOf = (text: string, mode: number): string => {
  const dir = join(scratch(), 'mine');
  mkdirSync(dir, { mode: 0o700 });
  const path = join(dir, 't');
  writeFileSync(path, text, { mode });
  return path;
};

/** `history` run by bash after `script` (which sets up the descriptor), --token-file `named`: exit code and stderr. */
const historyInBash = (script: string, named: string) =>
  new Promise<{ code: number; err: string }>((resolve) => {
    execFile(
      'bash',
      ['-c', `${script}; exec node '${CLI}' history credential-meter-1-service --server '${server.url()}' --token-file ${named}`],
      { env: ENV, timeout: 30_000 },
      (error, _out, err) => resolve({ code: typeof error?.code === 'number' ? error.code : 0, err }),
    );
  });

describe.skipIf(!linux)('a --token-file naming a descriptor whose file was removed', () => {
  it('exec 4<f; rm f; --token-file /dev/fd/4: read and sent, never ENOENT', async () => {
    const path = fileOf(`${TOKEN}\n`, 0o600);
    sent.length = 0;
    const { err } = await historyInBash(`exec 4<'${path}'; rm '${path}'`, '/dev/fd/4');
    expect(err).not.toContain('--token-file');
    expect(sent).toEqual([`Bearer ${TOKEN}`]);
  }, 40_000);

  it('--token-file /dev/stdin, stdin a removed file (a here-string of bash before 5.1): read and sent', async () => {
    const path = fileOf(`${TOKEN}\n`, 0o600);
    const fd = openSync(path, 'r');
    unlinkSync(path);
    sent.length = 0;
    const answer = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'history', 'credential-meter-1-service', '--server', server.url(), '--token-file', '/dev/stdin'], {
        env: ENV,
        stdio: [fd, 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.on('close', (code) => resolve({ code, err }));
    });
    closeSync(fd);
    expect(answer.err).not.toContain('--token-file');
    expect(sent).toEqual([`Bearer ${TOKEN}`]);
  }, 40_000);

  it('a descriptor of a file still named in a folder others may write: refused naming that folder, as the file is', async () => {
    const open = join(scratch(), 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const path = join(open, 't');
    writeFileSync(path, `${TOKEN}\n`, { mode: 0o600 });
    sent.length = 0;
    const { code, err } = await historyInBash(`exec 4<'${path}'`, '/dev/fd/4');
    expect(err).toContain(`error: --token-file: /dev/fd/4 (${path}) is in ${open}, which group or others may write (mode 0777)`);
    expect(code).toBe(2);
    expect(sent).toEqual([]);
  }, 40_000);

  it('a removed file others may write: still refused by the token file\'s own rule, not ENOENT', async () => {
    const path = fileOf(`${TOKEN}\n`, 0o600);
    sent.length = 0;
    const { code, err } = await historyInBash(`exec 4<'${path}'; chmod 622 '${path}'; rm '${path}'`, '/dev/fd/4');
    expect(err).toContain('error: --token-file: /dev/fd/4 is writable by group or others (mode 0622)');
    expect(err).not.toContain('ENOENT');
    expect(err).not.toContain(SECRET);
    expect(code).toBe(2);
    expect(sent).toEqual([]);
  }, 40_000);
});

describe.skipIf(!linux)('a --sign-key naming a descriptor whose file was removed', () => {
  /** `check` given the descriptor of a file of `mode` holding the key, the file removed once opened. */
  const removedWhileOpen = <T>(mode: number, check: (fd: number) => T): T => {
    const path = fileOf(SIGN_KEY, mode);
    const fd = openSync(path, 'r');
    unlinkSync(path);
    try {
      return check(fd);
    } finally {
      closeSync(fd);
    }
  };

  it('/proc/self/fd/N and /dev/fd/N: read', () => {
    removedWhileOpen(0o600, (fd) => {
      expect(signKeyRefusal(`/proc/self/fd/${fd}`)).toBe('read');
      expect(signKeyRefusal(`/dev/fd/${fd}`)).toBe('read');
      expect(signKeyRefusal(`/proc/${process.pid}/fd/${fd}`)).toBe('read');
    });
  });

  it('one others may read: refused by the key\'s own rule, naming the path given', () => {
    removedWhileOpen(0o644, (fd) => {
      expect(signKeyRefusal(`/dev/fd/${fd}`)).toBe(`--sign-key: /dev/fd/${fd} is readable by group or others; chmod 600 it`);
    });
  });

  it('a descriptor that is not open: cannot be read (ENOENT is right there)', () => {
    expect(signKeyRefusal('/dev/fd/987')).toBe('--sign-key: cannot read /dev/fd/987: ENOENT');
  });
});
