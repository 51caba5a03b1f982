import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readOnlyDatabase } from '../driven/files/read-only-database.ts';
import { KEY_REGISTRY_DB_FILE } from '../driven/key-registry/index.ts';
import { entityRow } from '../../projections/entities/index.ts';
import type { Credence } from './credence.ts';

/** Named one by one at most; the rest are counted. */
export const NAMED_AT_MOST = 20;

/** The events that end an entity whose keys the shredder destroys (adapters/protocols/procedures/shredder.ts). */
const ENDINGS: ReadonlySet<string> = new Set(['CredentialRevoked', 'CredentialExpired', 'AssociationRevoked', 'AssociationExpired']);
const ENDED_STATES: ReadonlySet<string> = new Set(['revoked', 'expired']);

/**
 * Keys the entity confirmed as its own (`pending = 0`) and destroyed: only the shredder destroys those, when the entity
 * ends. A pending key a run left and the sweep or a discard destroyed stays pending, and its entity may well be live.
 * One row per entity, in the table's key order (its primary key is (stream, handle): no sort).
 */
const DESTROYED_OWN_KEYS = `SELECT stream, max(destroyed_at) AS destroyed_at FROM se_key_handles
  WHERE destroyed_at IS NOT NULL AND pending = 0
    AND ((stream >= 'credential-' AND stream < 'credential.') OR (stream >= 'association-' AND stream < 'association.'))
  GROUP BY stream HAVING max(destroyed_at) > ?`;

export interface KeyDestroyedOfLiveEntity {
  readonly stream: string;
  /** Its state in the entities read model: not ended. */
  readonly state: string;
  /** When its last key was destroyed. */
  readonly destroyedAt: string;
}

/**
 * Entities the event log says are live (the entities read model, caught up) whose own keys `<dataDir>/keys.db` says
 * were destroyed: the ending that destroyed them is not in the log, which is what an `events.db` restored from a
 * backup older than a revocation leaves (review 131). With `destroyedAfter`, only the entities whose keys were
 * destroyed after that instant (keys-checked-clean.ts KeysCheckOwed). One pass over the destroyed keys, read-only, one read-model
 * lookup each; the first NAMED_AT_MOST are checked again in the store (an ending appended while the read model caught
 * up is not one), the rest counted.
 */
export const keysDestroyedOfLiveEntities = async (
  dataDir: string,
  credence: Pick<Credence, 'readModels' | 'store'>,
  destroyedAfter?: string,
): Promise<{ readonly named: readonly KeyDestroyedOfLiveEntity[]; readonly more: number }> => {
  const path = join(dataDir, KEY_REGISTRY_DB_FILE);
  if (!existsSync(path)) return { named: [], more: 0 };
  const found = readOnlyDatabase(path, (db) => {
    const live: KeyDestroyedOfLiveEntity[] = [];
    for (const row of db.prepare(DESTROYED_OWN_KEYS).iterate(destroyedAfter ?? '') as IterableIterator<{ stream: string; destroyed_at: string }>) {
      const state = entityRow(credence.readModels, row.stream)?.state;
      if (state !== undefined && !ENDED_STATES.has(state)) live.push({ stream: row.stream, state, destroyedAt: row.destroyed_at });
    }
    return live;
  });
  const named: KeyDestroyedOfLiveEntity[] = [];
  let more = 0;
  for (const entity of found) {
    if (named.length >= NAMED_AT_MOST) {
      more++;
      continue;
    }
    const events = await credence.store.readStream(entity.stream);
    if (!events.some((e) => ENDINGS.has(e.type))) named.push(entity);
  }
  return { named, more };
};
