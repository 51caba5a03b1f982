import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isCredenceError } from '../../domain/errors.ts';
import { MAX_LISTED_KEYS, type KeyHandle, type OwnedSecureEnvironment } from '../../domain/ports/index.ts';
import { readOnlyDatabase } from '../driven/files/read-only-database.ts';
import { boundHandles } from '../driven/key-registry/bound-handles.ts';
import { KEY_REGISTRY_DB_FILE } from '../driven/key-registry/index.ts';

/**
 * Review 286 L1: the embedded Secure Environment's files put back alone from a backup older than a revocation, keys.db
 * kept, bring back the keys the shredder destroyed since (a PSK copy, session keys), held and usable. keys.db holds
 * them destroyed, so the shredder's pass over the endings since its mark (keys-shredded-again.ts) finds none of them in
 * use: that pass is for a keys.db put back, this one for the Secure Environment put back without it.
 *
 * Every start with the embedded Secure Environment: its files carry no mark of when they were last in step with
 * keys.db. The owner's keys held are listed a page at a time (its index: about one row read per key) into a set, then
 * keys.db's destroyed bindings are read once, read-only, against it: memory for the keys held (what the fleet holds
 * now), not for every key ever destroyed. Not with a PKCS#11 token: no restore of the folder brings its keys back,
 * and listing a token's keys costs a search of them per page.
 */

/** What a start's pass found: keys.db holds them destroyed, the Secure Environment held them. */
export interface HeldAgain {
  readonly owner: string;
  /** Destroyed again now. */
  readonly destroyed: number;
  /** Its destruction refused: still held. */
  readonly refused: number;
}

interface StartLog {
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

/** Every key `se`'s owner holds that outlives the process (an ephemeral one is this process's, never bound). */
const keysHeld = async (se: OwnedSecureEnvironment): Promise<Set<string>> => {
  const held = new Set<string>();
  let after: KeyHandle | undefined;
  do {
    const page = await se.listKeys({ limit: MAX_LISTED_KEYS, ...(after !== undefined ? { after } : {}) });
    for (const key of page.keys) if (!key.ephemeral) held.add(key.handle);
    after = page.next;
  } while (after !== undefined);
  return held;
};

/** The handles of `held` keys.db binds as destroyed and binds nowhere as not (a key still in use is no one's to destroy). */
const destroyedInKeysDb = (dataDir: string, held: ReadonlySet<string>): Set<string> => {
  const path = join(dataDir, KEY_REGISTRY_DB_FILE);
  const found = new Set<string>();
  if (held.size === 0 || !existsSync(path)) return found;
  readOnlyDatabase(path, (db) => {
    const rows = db.prepare(`SELECT handle FROM se_key_handles WHERE destroyed_at IS NOT NULL`).pluck().iterate() as IterableIterator<string>;
    for (const handle of rows) if (held.has(handle)) found.add(handle);
  });
  if (found.size === 0) return found;
  for (const handle of boundHandles(dataDir, found).keys()) found.delete(handle);
  return found;
};

/**
 * Destroys again each key `se`'s owner holds that keys.db holds destroyed. Undefined when there was none. A key
 * already gone meanwhile is not counted; one whose destruction is refused is counted as refused, the others go on.
 */
export const destroyKeysHeldAgain = async (dataDir: string, se: OwnedSecureEnvironment): Promise<HeldAgain | undefined> => {
  const found = destroyedInKeysDb(dataDir, await keysHeld(se));
  if (found.size === 0) return undefined;
  let destroyed = 0;
  let refused = 0;
  for (const handle of found) {
    try {
      await se.destroy(handle as KeyHandle);
      destroyed++;
    } catch (error) {
      if (!isCredenceError(error, 'not_found')) refused++;
    }
  }
  return destroyed + refused === 0 ? undefined : { owner: se.owner, destroyed, refused };
};

/**
 * The pass, said at warn (one line for the owner: counts and why, never a handle) when it destroyed or was refused any;
 * at error when it could not run. A failure refuses no start: keys.db holds them destroyed, so nothing of the service
 * uses them, and the next start tries again.
 */
export const warnKeysHeldAgain = async (o: { readonly dataDir: string; readonly se: OwnedSecureEnvironment; readonly log: StartLog }): Promise<void> => {
  let found: HeldAgain | undefined;
  try {
    found = await destroyKeysHeldAgain(o.dataDir, o.se);
  } catch (error) {
    o.log.error(
      { owner: o.se.owner, err: error },
      'the Secure Environment could not be checked for keys keys.db holds destroyed: a key destroyed since a backup of its files may be held still; the next start checks again',
    );
    return;
  }
  if (found === undefined) return;
  const refused =
    found.refused > 0 ? `; ${found.refused} more the Secure Environment refused to destroy are held still: the next start tries them again` : '';
  o.log.warn(
    { owner: found.owner, keysDestroyedAgainInSecureEnvironment: found.destroyed, keysRefused: found.refused },
    `${found.destroyed} key(s) of ${found.owner} the Secure Environment held were destroyed again: keys.db holds them destroyed, ` +
      `as Secure Environment files (secure-environment.sqlite, secure-environment.wrapping-keys) put back from a backup older than their destruction ` +
      `bring them back${refused}`,
  );
};
