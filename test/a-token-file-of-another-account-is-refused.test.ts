/**
 * `--token-file` checked the file's mode bits only. A token file another account owns, however private its mode, is
 * one that account can swap for a token of its own at any time, so the command would act as them: refused before it
 * is read or anything is sent, with the owner rule every private file of Credence follows (review 47 item 1, as ssh's
 * StrictModes). Making a file another account's takes chown, which only root may do: as anyone else this cannot run.
 */
import { chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBearerCountingServer } from './support/bearer-counting-server.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const NOBODY = 65534;
const asRoot = process.geteuid?.() === 0;
const scratch = temporaryFolders('credence-token-file-owner-');

const server = useBearerCountingServer();
const sent = server.sent;

const tokenFile = (): string => {
  const path = join(scratch(), 'token');
  writeFileSync(path, 'eyJ.token-of-this-operator.sig\n', { mode: 0o600 });
  return path;
};

describe.skipIf(!asRoot)('a --token-file another account owns (needs root to chown)', () => {
  it('is refused as bad usage (exit 2) naming the file, its owner and the fix, and no request is sent', async () => {
    const path = tokenFile();
    chownSync(path, NOBODY, NOBODY);
    sent.length = 0;
    const { code, err } = await runCli(['history', 'credential-meter-1-service', '--server', server.url(), '--token-file', path]);
    expect(err).toContain(`--token-file: ${path} is owned by uid ${NOBODY}, not by uid 0 that Credence runs as`);
    expect(err).toContain(`chown 0 ${path}`);
    expect(err).not.toContain('token-of-this-operator');
    expect(code).toBe(2);
    expect(sent).toEqual([]);
  });

  it('is read as before when this account owns it', async () => {
    const path = tokenFile();
    sent.length = 0;
    const { err } = await runCli(['history', 'credential-meter-1-service', '--server', server.url(), '--token-file', path]);
    expect(err).not.toContain('is owned by uid');
    expect(sent).toEqual(['Bearer eyJ.token-of-this-operator.sig']);
  });
});
