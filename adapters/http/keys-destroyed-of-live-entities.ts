import type { FastifyBaseLogger } from 'fastify';
import { parseStreamId } from '../../domain/streams.ts';
import type { Credence } from '../runtime/index.ts';
import { entitiesCheckpoint, keysCheckOwed, recordKeysCheck } from '../runtime/keys-checked-clean.ts';
import { keysDestroyedOfLiveEntities } from '../runtime/keys-destroyed-of-live-entities.ts';

const STEP = 'README.md, "Restoring the event store from a backup", step 6';

const revokeCommand = (stream: string): string => {
  const ref = parseStreamId(stream);
  return ref === undefined ? `revoke ${stream}` : `credence ${ref.kind} revoke ${ref.id} --reason <its reason>`;
};

/**
 * Said at warn, once per entity at start (the first ones, then how many more): a credential or association live in the
 * event log whose keys were destroyed. Left so, what was revoked after the backup an `events.db` was restored from is
 * live again with nothing to say so (review 131): the CRL record names certificates only. Names and instants only,
 * never a key handle. Checked at every start until one finds none, then again only once the read models follow
 * another log (keys-checked-clean.ts): a restore, however the read models were caught up since (review 137).
 */
export const warnKeysDestroyedOfLiveEntities = async (
  o: { readonly dataDir: string; readonly credence: Pick<Credence, 'readModels' | 'store'>; readonly log: FastifyBaseLogger },
): Promise<void> => {
  const { readModels, store } = o.credence;
  const owed = await keysCheckOwed(readModels, store);
  if (owed === undefined) return;
  const checkedFrom = entitiesCheckpoint(readModels);
  const { named, more } = await keysDestroyedOfLiveEntities(o.dataDir, o.credence, owed.destroyedAfter);
  for (const entity of named) {
    o.log.warn(
      { stream: entity.stream, state: entity.state, keysDestroyedAt: entity.destroyedAt },
      `${entity.stream} is ${entity.state} in the event log, yet keys.db holds its keys as destroyed at ${entity.destroyedAt}: ` +
        `its key was destroyed after the events.db backup: revoke it again (${revokeCommand(entity.stream)}), and redo every ` +
        `revocation made since the backup, of nodes and App-IDs too (${STEP})`,
    );
  }
  if (more > 0) {
    o.log.warn(
      { count: more },
      `${more} more credential(s) or association(s) are live in the event log with their keys destroyed in keys.db: ` +
        `their keys were destroyed after the events.db backup: revoke them again (${STEP})`,
    );
  }
  // After the warnings: a record that cannot be written takes none of them back.
  await recordKeysCheck(readModels, checkedFrom, named.length === 0 && more === 0);
};
