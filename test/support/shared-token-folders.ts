import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteKeyRegistry } from '../../adapters/driven/key-registry/index.ts';
import { KEY_HANDLE_FILE, LOG_KEY_OWNER } from '../../adapters/driven/transparency/index.ts';
import { openServiceSecureEnvironment } from '../../adapters/runtime/index.ts';
import { ownerView, type KeyHandle, type OwnedSecureEnvironment } from '../../domain/ports/index.ts';
import { isHeld } from './key-held.ts';

/**
 * One token several data folders share, as `credence key destroy` and `key list` meet it (docs/hsm.md): the token
 * opened as one owner for a test's own use, whether it still holds a key, and two folders A and B on it, where B's key
 * registry binds an infrastructure key and its transparency.handle names a log key. A holds records too (an empty key
 * registry): a folder holding none is refused as a wrong path.
 */
export const sharedTokenFolders = (tokenUri: string, scratch: () => string) => {
  const withToken = async <T>(owner: string, use: (se: OwnedSecureEnvironment) => Promise<T>): Promise<T> => {
    const se = openServiceSecureEnvironment(scratch(), tokenUri, { now: () => new Date(), env: {} });
    try {
      return await use(ownerView(se, owner));
    } finally {
      se.close();
    }
  };
  const held = (owner: string, handle: KeyHandle): Promise<boolean> => withToken(owner, (se) => isHeld(se, handle));
  const twoFolders = async () => {
    const a = join(scratch(), 'a');
    const b = join(scratch(), 'b');
    for (const dir of [a, b]) mkdirSync(dir, { mode: 0o700 });
    SqliteKeyRegistry.open({ dir: a }).close();
    const bound = await withToken('maf:infrastructure', (se) => se.generate('psk256'));
    const registry = SqliteKeyRegistry.open({ dir: b });
    try {
      registry.register('infrastructure', bound, 'pseudonym-prf');
    } finally {
      registry.close();
    }
    const logKey = await withToken(LOG_KEY_OWNER, (se) => se.generate('ed25519'));
    writeFileSync(join(b, KEY_HANDLE_FILE), `${logKey}\n`, { mode: 0o600 });
    return { a, b, bound, logKey };
  };
  return { withToken, held, twoFolders };
};
