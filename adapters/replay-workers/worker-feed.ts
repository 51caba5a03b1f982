import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { prunedBeyondSafeNesting } from '../../domain/json-limits.ts';
import { partitionOf, roleIn, routeStreamOf, type RecordRole } from '../../projections/replay/partition.ts';
import { recordAtPosition } from '../../projections/runtime/log-check.ts';
import type { PartitionSource, RecordDigests } from './messages.ts';
import type { ReplayWorker } from './replay-worker-thread.ts';

/** Records per message to a worker: large enough that cloning dominates the messaging cost. */
const BATCH = 2_000;
const PAGE = 5_000;

/** Where a record goes: its entity's partition, or for a fact claim its claimant's (who is judged against it). */
const routeOf = (record: RecordedEvent, count: number): number => partitionOf(routeStreamOf(record.streamId, record.type, record.data), count);

interface Feed {
  readonly onRecord?: (r: RecordedEvent) => void;
  readonly onRecordDigest?: (position: bigint, digest: string) => void;
  readonly onProgress?: (done: number) => void;
  /** The last position to route (routeRecords): a checkpoint's anchor fixed beforehand; omitted, the store's end. */
  readonly until?: bigint;
}

/**
 * The workers' record digests in global order: each partition's are in position order, and together they must hold
 * every row of the range exactly once (each row is kept by one partition), or the read is refused.
 */
const mergeDigests = (answers: readonly { readonly digests?: RecordDigests }[], rows: number, onDigest: (position: bigint, digest: string) => void): void => {
  const lists = answers.map((a) => a.digests ?? { positions: new BigInt64Array(0), hashes: new Uint8Array(0) });
  const next = lists.map(() => 0);
  let previous = 0n;
  for (let n = 0; n < rows; n++) {
    let from = -1;
    for (let i = 0; i < lists.length; i++) {
      if (next[i]! < lists[i]!.positions.length && (from < 0 || lists[i]!.positions[next[i]!]! < lists[from]!.positions[next[from]!]!)) from = i;
    }
    if (from < 0) throw new Error(`replay workers digested ${n} records of the ${rows} rows they read`);
    const at = next[from]!++;
    const position = lists[from]!.positions[at]!;
    if (position <= previous) throw new Error(`replay workers digested position ${position} twice or out of order`);
    previous = position;
    onDigest(position, Buffer.from(lists[from]!.hashes.buffer, lists[from]!.hashes.byteOffset + at * 32, 32).toString('hex'));
  }
  if (lists.some((l, i) => next[i] !== l.positions.length)) throw new Error(`replay workers digested more records than the ${rows} rows they read`);
};

/** A record whose data and metadata a structured clone can take: pruned below SAFE_NESTING (json-limits.ts) when deeper. */
const clonable = (record: RecordedEvent): RecordedEvent => {
  const data = prunedBeyondSafeNesting(record.data);
  const metadata = prunedBeyondSafeNesting(record.metadata);
  return data === record.data && metadata === record.metadata ? record : { ...record, data, metadata };
};

/**
 * Posts a batch of records to its worker. A hostile row nested past any stack cannot be cloned (postMessage throws
 * before sending anything): the batch goes again with such rows pruned, which break the same limit there. Only a
 * batch that failed pays for the walk.
 */
const postRecords = (worker: ReplayWorker, batch: { readonly records: RecordedEvent[]; readonly roles: RecordRole[] }): void => {
  try {
    worker.post({ type: 'records', ...batch });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    worker.post({ type: 'records', records: batch.records.map(clonable), roles: batch.roles });
  }
};

/** This thread reads $all and posts each record to its partition's worker; returns the last position read. */
export const routeRecords = async (store: EventStore, workers: readonly ReplayWorker[], options: Feed): Promise<bigint> => {
  const count = workers.length;
  const batches: { records: RecordedEvent[]; roles: RecordRole[] }[] = workers.map(() => ({ records: [], roles: [] }));
  const post = (p: number, record: RecordedEvent, role: RecordRole): void => {
    const batch = batches[p]!;
    batch.records.push(record);
    batch.roles.push(role);
    if (batch.records.length >= BATCH) {
      postRecords(workers[p]!, batch);
      batches[p] = { records: [], roles: [] };
    }
  };
  let position = 0n;
  let read = 0;
  let past = false;
  for (;;) {
    let inPage = 0;
    for await (const record of store.readAll({ afterPosition: position, maxCount: PAGE })) {
      if (options.until !== undefined && record.position > options.until) {
        past = true;
        break;
      }
      inPage++;
      position = record.position;
      options.onRecord?.(record);
      // The roles partition.ts gives (roleIn), not worked out again here (review 371): a fact claim is judged in its
      // claimant's partition and ordered in its fact stream's, which may be another.
      const p = routeOf(record, count);
      post(p, record, roleIn(record.streamId, record.type, record.data, p, count)!);
      const q = partitionOf(record.streamId, count);
      const ordered = q === p ? undefined : roleIn(record.streamId, record.type, record.data, q, count);
      if (ordered !== undefined) post(q, record, ordered);
    }
    read += inPage;
    options.onProgress?.(read);
    if (inPage < PAGE || past) break;
  }
  batches.forEach((batch, p) => batch.records.length > 0 && postRecords(workers[p]!, batch));
  return position;
};

/**
 * Each worker reads its own partition from the events file, up to the head fixed here before they start (appends
 * after it wait for the next verification). This thread reads the records too only for `onRecord` (the checkpoint's
 * digest), and then checks it read what the workers did. Every worker must have walked the same rows up to the
 * head, ending on the very event the store holds there: a file that is not this store's log fails the replay
 * instead of judging another history.
 */
export const readInWorkers = async (store: EventStore, workers: readonly ReplayWorker[], source: PartitionSource, options: Feed): Promise<bigint> => {
  const head = (await store.headPosition()) ?? 0n;
  if (head === 0n) return 0n;
  const count = workers.length;
  const digests = options.onRecordDigest !== undefined;
  const reads = Promise.all(workers.map((w, partition) => w.ask({ type: 'read', source, head, partition, count, digests }, 'read')));
  let read: number | undefined;
  if (options.onRecord !== undefined) {
    read = 0;
    let position = 0n;
    for (;;) {
      let inPage = 0;
      for await (const record of store.readAll({ afterPosition: position, maxCount: PAGE })) {
        inPage++;
        position = record.position;
        if (position > head) break;
        read++;
        options.onRecord(record);
      }
      options.onProgress?.(read);
      if (inPage < PAGE || position >= head) break;
    }
  }
  // The event at the head, as the store reads it: the workers' last row must be that very event.
  const headId = (await recordAtPosition(store, head))?.id;
  const answers = await reads;
  const rows = answers[0]!.rows;
  if (answers.some((a) => a.rows !== rows || a.last !== head || a.lastId !== headId) || (read !== undefined && read !== rows)) {
    const seen = answers.map((a) => `${a.rows} rows to position ${a.last}`).join(', ');
    throw new Error(`options.source: ${source.file} is not this store's log: the store's head is ${head}${read === undefined ? '' : ` (${read} records)`}, the workers read ${seen}`);
  }
  if (options.onRecordDigest !== undefined) mergeDigests(answers, rows, options.onRecordDigest);
  if (read === undefined) options.onProgress?.(rows);
  return head;
};

