import type { EventStore, ReadAllOptions, RecordedEvent } from '../../domain/ports/event-store.ts';
import { decodeStored, type StoredRecord } from '../../domain/stored.ts';
import { notInLog, readCheckpoint } from '../../projections/runtime/index.ts';
import type { ShredderMark, SqliteKeyRegistry } from '../driven/key-registry/index.ts';
import type { ReadModelDb } from '../driven/readmodels/index.ts';
import type { KeyShredder } from '../protocols/procedures/index.ts';

/** The other way round (review 286 L1): the Secure Environment's files put back, keys.db kept. */
export { warnKeysHeldAgain } from './keys-destroyed-held-again.ts';

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
  /** Keys of ended entities keys.db held in use, destroyed again. */
  readonly keys: number;
  /**
   * Keys of ended entities keys.db held in use whose destruction the Secure Environment refused: owed, the shredder
   * tries them again (review 202: they were counted as destroyed).
   */
  readonly owed: number;
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
  /** The last pass's finding, when it destroyed or owes any key: what the service says at warn. */
  readonly shreddedAgain: ShreddedAgain | undefined;
  /**
   * While a pass runs, how far it read and through where it goes: the first start after the upgrade goes over every
   * ending of the log before the API listens (review 202: 10 million endings, about a minute), for the catch-up's
   * progress to say. Undefined when no pass runs.
   */
  readonly shreddingAgain: { readonly position: bigint | undefined; readonly through: bigint } | undefined;
}

type Registry = Pick<SqliteKeyRegistry, 'live' | 'shredderMark' | 'setShredderMark'>;

/** As a projection's checkpoint names the record (projections/runtime/batch.ts checkpointOf). */
const markOf = (record: StoredRecord): ShredderMark => ({
  position: record.position,
  eventId: record.id,
  occurredAt: String(record.metadata['occurredAt'] ?? ''),
});

/**
 * The records `store.readAll(options)` gives, a page at a time: read synchronously where the store reads in-process
 * (`readAllPagesSync`, as eachRecord does: no promise per record, review 202), else gathered from `readAll` (a store
 * over the network). The caller yields between pages, so the probes and the catch-up's progress get their turns.
 */
async function* pagesOf(store: EventStore, options: ReadAllOptions): AsyncGenerator<readonly RecordedEvent[]> {
  if (store.readAllPagesSync !== undefined) {
    yield* store.readAllPagesSync(options);
    return;
  }
  let page: RecordedEvent[] = [];
  for await (const record of store.readAll(options)) {
    page.push(record);
    if (page.length >= REMOTE_PAGE) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

/** Records gathered from `readAll` between two turns of the event loop: a page of the embedded store's size. */
const REMOTE_PAGE = 1_000;

/** A turn of the event loop for timers and sockets (a resolved promise would give only the microtasks theirs). */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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
  let passing: MarkedKeyShredder['shreddingAgain'];
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
    get shreddingAgain() {
      return passing;
    },
    async shredAgain() {
      const checkpoint = readCheckpoint(o.readModels, shredder.name);
      if (checkpoint === undefined) return undefined;
      const from = await startOf(o.store, shredder.name, registry.shredderMark(), checkpoint.position);
      if (from === undefined) return undefined;
      let keys = 0;
      let owed = 0;
      const entities = new Set<string>();
      const filter = { eventTypes: shredder.eventTypes ?? [] };
      passing = { position: from.why === 'behind' ? from.after : undefined, through: checkpoint.position };
      try {
        pages: for await (const page of pagesOf(o.store, { filter, ...(from.why === 'behind' ? { afterPosition: from.after } : {}) })) {
          for (const record of page) {
            if (record.position > checkpoint.position) break pages;
            passing = { position: record.position, through: checkpoint.position };
            const before = registry.live(record.streamId);
            if (before.length === 0) continue;
            // An event that does not decode is passed over, as the runner passes over it (replay reports it).
            const decoded = decodeStored(record);
            if (!decoded.ok) continue;
            await react(decoded.value);
            const after = new Set(registry.live(record.streamId));
            const gone = before.filter((handle) => !after.has(handle));
            if (gone.length === 0) continue;
            // Out of use now, destroyed or owed: an owed one (the Secure Environment refused) is not destroyed yet.
            const owes = new Set(shredder.owed().filter((k) => k.stream === record.streamId).map((k) => k.handle));
            const owedHere = gone.filter((handle) => owes.has(handle)).length;
            owed += owedHere;
            keys += gone.length - owedHere;
            entities.add(record.streamId);
          }
          await nextTurn();
        }
      } finally {
        passing = undefined;
      }
      // Every ending through the checkpoint has had its keys destroyed in this file now.
      const { position, occurredAt, eventId } = checkpoint;
      registry.setShredderMark({ position, occurredAt, ...(eventId !== undefined ? { eventId } : {}) });
      const found = { keys, owed, entities: entities.size, from, through: checkpoint.position };
      last = keys > 0 || owed > 0 ? found : undefined;
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
  // Owed keys are not destroyed yet: said apart, with where their retries show (review 202: counted as destroyed).
  const owed =
    found.owed > 0
      ? `; ${found.owed} more the Secure Environment refused to destroy are owed, not destroyed yet: the shredder tries them again, backing off, and GET /v1/projections says so (key-shredder) until they are gone`
      : '';
  return (
    `${found.keys} key(s) of ${found.entities} revoked or expired credential(s) or association(s) were destroyed again: ` +
    'keys.db held them in use though the event log ends their entity, as a keys.db (and Secure Environment files) put back ' +
    `from a backup older than their destruction does; the key shredder went again over the endings ${since} through position ${found.through}${owed}`
  );
};
