/**
 * Review 245 item 7: a `--token-file` others may write (mode 0666, 0620) got only the warning for one others may read,
 * which never said they could replace the token with one of theirs, the command then acting as that token's holder;
 * and one another account owns was refused saying that account "could read or replace the keys", of a token. A token
 * file others may write is now refused before it is read or anything is sent (exit 2), as a `--key` file others may
 * write is, saying who could replace it and the fix; another account's is refused in a token's words. One others may
 * only read still runs with its warning.
 */
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBearerCountingServer } from './support/bearer-counting-server.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const NOBODY = 65534;
const asRoot = process.geteuid?.() === 0;
const posix = process.platform !== 'win32';
const scratch = temporaryFolders('credence-token-file-writable-');
const SECRET = 'token-of-this-operator';

const server = useBearerCountingServer();
const sent = server.sent;

const tokenFile = (mode: number): string => {
  const path = join(scratch(), 'token');
  writeFileSync(path, `eyJ.${SECRET}.sig\n`, { mode: 0o600 });
  chmodSync(path, mode);
  return path;
};
const history = (path: string) => runCli(['history', 'credential-meter-1-service', '--server', server.url(), '--token-file', path]);

describe.skipIf(!posix)('a --token-file others may write', () => {
  it.each([0o666, 0o620, 0o602].map((mode) => [mode.toString(8), mode] as const))('mode 0%s: refused (exit 2) saying others could replace the token, and nothing is sent', async (_octal, mode) => {
    const path = tokenFile(mode);
    sent.length = 0;
    const { code, err } = await history(path);
    expect(err).toContain(`error: --token-file: ${path} is writable by group or others (mode 0${mode.toString(8)}): they could replace the token with one of theirs, and this command would act as its holder; chmod 600 ${path}`);
    expect(err).not.toContain(SECRET);
    expect(code).toBe(2);
    expect(sent).toEqual([]);
  });

  it('mode 0644 (others may read only): still read, with the warning', async () => {
    const path = tokenFile(0o644);
    sent.length = 0;
    const { err } = await history(path);
    expect(err).toContain(`warning: --token-file: ${path} is readable by group or others; chmod 600 it`);
    expect(err).not.toContain('is writable');
    expect(sent).toEqual([`Bearer eyJ.${SECRET}.sig`]);
  });
});

describe.skipIf(!asRoot)('a --token-file another account owns (needs root to chown)', () => {
  it('is refused in the words of a token, not of keys', async () => {
    const path = tokenFile(0o600);
    chownSync(path, NOBODY, NOBODY);
    sent.length = 0;
    const { code, err } = await history(path);
    expect(err).toContain(`--token-file: ${path} is owned by uid ${NOBODY}, not by uid 0 that Credence runs as: that account could read the token or replace it with one of its own`);
    expect(err).toContain(`chown 0 ${path}`);
    expect(err).not.toContain('keys');
    expect(code).toBe(2);
    expect(sent).toEqual([]);
  });
});
