import type { EventStore } from '../../domain/ports/event-store.ts';
import { decodeStored, type StoredRecord } from '../../domain/stored.ts';
import { notInLog, readCheckpoint } from '../../projections/runtime/index.ts';
import type { ShredderMark, SqliteKeyRegistry } from '../driven/key-registry/index.ts';
import type { ReadModelDb } from '../driven/readmodels/index.ts';
import type { KeyShredder } from '../protocols/procedures/index.ts';

/**
 * Review 198: `keys.db` and the Secure Environment files put back from a backup (the remedy for either damaged,
 * adapters/driven/files/damaged-database.ts) bring back every key the shredder destroyed since that backup, bound in
 * use, while the shredder's checkpoint in `readmodels.db` is past their endings: nothing destroyed them again.
 *
 * Why a mark kept in `keys.db` rather than comparing, at every start, each key it holds in use with the entities the
 * log says have ended: the mark travels with the file it describes, so a `keys.db` restored alone or with its Secure
 * Environment files brings back its own older mark, and a start costs one row read and one record read of the store
 * unless it is behind; the comparison would cost one read-model lookup per key in use at every start, for a restore that
 * is rare. Going again over the endings since the mark is the shredder's own reaction, idempotent: a key already gone
 * (a PKCS#11 token, which no restore of the folder brings back, or the embedded Secure Environment left as it was) is
 * only marked destroyed. The same for every Secure Environment: the pass goes through the shredder, which is generic
 * over the port.
 *
 * A `keys.db` without a mark (an earlier version's, before this one's first ending with keys) or whose mark names an
 * event this log does not hold (an `events.db` restored since, or another folder's file) is gone over from the start of
 * the log, once: nothing tells that it was not restored before the upgrade, and the pass is what a rebuild of
 * `readmodels.db` already makes the shredder do. Starting from the read model's checkpoint instead would take an
 * upgraded folder that holds such keys as clean for good.
 */

/** What a start's pass over the endings since keys.db's mark found. */
export interface ShreddedAgain {
  /** Keys of ended entities keys.db held in use, destroyed again (or owed: the shredder retries those). */
  readonly keys: number;
  /** Credentials and associations they were bound to. */
  readonly entities: number;
  /** Where the pass went on from: keys.db's mark (`behind`), or the start of the log. */
  readonly from: { readonly why: 'behind'; readonly after: bigint } | { readonly why: 'no-mark' | 'another-log' };
  /** The shredder's checkpoint in readmodels.db: the endings after it are the live runtime's to handle. */
  readonly through: bigint;
}

export interface MarkedKeyShredder extends KeyShredder {
  /**
   * Goes again over the endings from keys.db's mark to the shredder's checkpoint, destroying their keys still bound in
   * use, then raises the mark to that checkpoint. Undefined when there was nothing to go over (no checkpoint: the
   * shredder goes over the whole log itself; or the mark is at or past it). Before the live runtime starts.
   */
  shredAgain(): Promise<ShreddedAgain | undefined>;
  /** The last pass's finding, when it destroyed any key: what the service says at warn. */
  readonly shreddedAgain: ShreddedAgain | undefined;
}

type Registry = Pick<SqliteKeyRegistry, 'live' | 'shredderMark' | 'setShredderMark'>;

/** As a projection's checkpoint names the record (projections/runtime/batch.ts checkpointOf). */
const markOf = (record: StoredRecord): ShredderMark => ({
  position: record.position,
  eventId: record.id,
  occurredAt: String(record.metadata['occurredAt'] ?? ''),
});

/** Where the pass starts, or undefined when keys.db's mark is at or past the shredder's checkpoint in this log. */
const startOf = async (
  store: EventStore,
  name: string,
  mark: ShredderMark | undefined,
  through: bigint,
): Promise<ShreddedAgain['from'] | undefined> => {
  if (mark === undefined) return { why: 'no-mark' };
  const handled = mark.eventId === undefined ? undefined : { id: mark.eventId, occurredAt: mark.occurredAt };
  if ((await notInLog(store, name, mark.position, handled)) !== undefined) return { why: 'another-log' };
  return mark.position < through ? { why: 'behind', after: mark.position } : undefined;
};

/**
 * The shredder with its mark kept in keys.db: after an ending whose entity had keys in use, the mark moves to it (not
 * after every ending: a rebuild's pass over endings whose keys are gone writes nothing). Written once the reaction
 * returned, so the mark is never past an ending whose keys keys.db does not hold destroyed (or owed); lower than the
 * truth is only a longer pass at the next start.
 */
export const markedKeyShredder = (
  shredder: KeyShredder,
  registry: Registry,
  o: { readonly store: EventStore; readonly readModels: ReadModelDb },
): MarkedKeyShredder => {
  const react = shredder.react?.bind(shredder);
  if (react === undefined) throw new TypeError('shredder: a projection with a reaction (keyShredder) is expected');
  let last: ShreddedAgain | undefined;
  return {
    ...shredder,
    async react(e) {
      const had = registry.live(e.record.streamId).length > 0;
      await react(e);
      if (had) registry.setShredderMark(markOf(e.record));
    },
    get shreddedAgain() {
      return last;
    },
    async shredAgain() {
      const checkpoint = readCheckpoint(o.readModels, shredder.name);
      if (checkpoint === undefined) return undefined;
      const from = await startOf(o.store, shredder.name, registry.shredderMark(), checkpoint.position);
      if (from === undefined) return undefined;
      let keys = 0;
      const entities = new Set<string>();
      const filter = { eventTypes: shredder.eventTypes ?? [] };
      for await (const record of o.store.readAll({ filter, ...(from.why === 'behind' ? { afterPosition: from.after } : {}) })) {
        if (record.position > checkpoint.position) break;
        const inUse = registry.live(record.streamId).length;
        if (inUse === 0) continue;
        // An event that does not decode is passed over, as the runner passes over it (replay reports it).
        const decoded = decodeStored(record);
        if (!decoded.ok) continue;
        await react(decoded.value);
        const gone = inUse - registry.live(record.streamId).length;
        keys += gone;
        if (gone > 0) entities.add(record.streamId);
      }
      // Every ending through the checkpoint has had its keys destroyed in this file now.
      const { position, occurredAt, eventId } = checkpoint;
      registry.setShredderMark({ position, occurredAt, ...(eventId !== undefined ? { eventId } : {}) });
      const found = { keys, entities: entities.size, from, through: checkpoint.position };
      last = keys > 0 ? found : undefined;
      return found;
    },
  };
};

/** What the service says at warn after a pass that destroyed keys again: counts and positions, never a key or handle. */
export const shreddedAgainWarning = (found: ShreddedAgain): string => {
  const since =
    found.from.why === 'behind'
      ? `since the last one keys.db records (position ${found.from.after})`
      : found.from.why === 'no-mark'
        ? 'from the start of the log (keys.db records none: an earlier version wrote it, or its shredder had destroyed no key yet)'
        : "from the start of the log (the last one keys.db records is not in this event log's)";
  return (
    `${found.keys} key(s) of ${found.entities} revoked or expired credential(s) or association(s) were destroyed again: ` +
    'keys.db held them in use though the event log ends their entity, as a keys.db (and Secure Environment files) put back ' +
    `from a backup older than their destruction does; the key shredder went again over the endings ${since} through position ${found.through}`
  );
};
