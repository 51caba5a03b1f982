import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { openAccessRegistry } from '../adapters/runtime/index.ts';
import { ACCESS_OWNER } from '../adapters/http/auth/open-access-control.ts';
import { localConfig, withLocalAccess } from '../bin/commands/token-target.ts';
import { capture, runCli, spawnCli } from './support/cli.ts';
import { isHeld, withDataFolderSe } from './support/key-held.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 378 #3: a local `token rotate-key` (or a first `token create`) generates a signing key, then names it in
 * access.db, taking no folder lock (it runs beside a running service, which holds it). `key destroy` run between the two
 * found the key named by nothing and destroyed it; access.db then named, as current, a key no one held. A local token
 * command holds the folder's key-making lock while it has access.db open, and `key list` and `key destroy` wait for it
 * before they read access.db. The window is held open here by the test: inside withLocalAccess (the command's lock held), a key is
 * made, `key destroy` of it started in another process, and only then named in access.db, as the rotation's commit does.
 */
const scratch = temporaryFolders('credence-key-destroy-token-making-');

/** How long `key destroy` is given to act while the key is named by nothing: a child process starts in a few seconds. */
const WINDOW_MS = 10_000;

describe('credence key destroy while a local token command has made a key and not yet named it', () => {
  it('waits for the command, then refuses the key access.db names by then (exit 1), which stays held', async () => {
    const dir = join(scratch(), 'data');
    const issued = await runCli(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops', '--ttl', '1h']);
    expect(issued.code, issued.err).toBe(0);
    const { io } = capture();

    const { made, early, destroying } = await withLocalAccess(await localConfig({ data: dir }, io), io, 'locally-only', async () => {
      // What the rotation's generate leaves, before its commit.
      const key = await withDataFolderSe(dir, ACCESS_OWNER, (se) => se.generate('ed25519', { usage: 'sign' }));
      const run = spawnCli(['key', 'destroy', '--owner', ACCESS_OWNER, '--handle', key, '--data', dir]);
      const ended = await Promise.race([run, sleep(WINDOW_MS).then(() => undefined)]);
      // The commit: access.db names it as the current key.
      const registry = openAccessRegistry({ dir });
      try {
        registry.rotateSigningKey(key, new Date(), 'test', { withdraw: false });
      } finally {
        registry.close();
      }
      return { made: key, early: ended, destroying: run };
    });
    const destroyed = await destroying;

    expect(early, 'key destroy ended while the key was named by nothing').toBeUndefined();
    expect(destroyed.code, destroyed.err).toBe(1);
    expect(destroyed.err).toContain('[access_signing_key_in_use]');
    expect(await withDataFolderSe(dir, ACCESS_OWNER, (se) => isHeld(se, made))).toBe(true);
    // The folder's one key-making lock stays, free, for the next command (review 399): none of its own per command.
    expect(readdirSync(dir).filter((name) => name.startsWith('access-key-making'))).toEqual(['access-key-making.lock']);
    expect(existsSync(join(dir, 'access.db'))).toBe(true);
  }, 60_000);
});
