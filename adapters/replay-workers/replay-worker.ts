import { readFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { isFactClaim } from '../../domain/fact-claims.ts';
import type { JsonObject, RecordedEvent } from '../../domain/ports/event-store.ts';
import { parseStreamId } from '../../domain/streams.ts';
import { readStored, stateOf, type ReadStored } from '../../machines/index.ts';
import { claimTuple, entityTuple } from '../../projections/replay/checkpoint.ts';
import { FACT_KINDS, FactTimeline, type FactRevision } from '../../projections/replay/fact-timeline.ts';
import { partitionOf, routeStreamOf } from '../../projections/replay/partition.ts';
import { speculateFactRevisions } from '../../projections/replay/speculation.ts';
import { FleetVerifier } from '../../projections/replay/verifier.ts';
import type { ToWorker, FromWorker, PartitionSource } from './messages.ts';

/**
 * One partition of a fleet replay (pool.ts drives it): holds its records, decoded once on arrival (the zod parse of
 * stored events), then alternates the two passes the pool asks for.
 */
const port = parentPort;
if (port === null) throw new Error('replay-worker.ts runs as a worker thread (adapters/replay-workers/pool.ts)');

const records: RecordedEvent[] = [];
const decoded: (ReadStored | undefined)[] = [];
let refuse = new Set<bigint>();
let own: FactRevision[] = [];
let ownRefused = new Set<bigint>();
let verifier: FleetVerifier | undefined;

const decode = (record: RecordedEvent): ReadStored | undefined => {
  if (isFactClaim(record)) return undefined;
  const ref = parseStreamId(record.streamId);
  return ref === undefined ? undefined : readStored(record, ref.id);
};

const NOTHING: JsonObject = Object.freeze({});

/**
 * Keeps a record and its decoding for the passes. A decoded event's data and metadata live on in their zod-parsed
 * copies, and no pass reads the stored ones again (fact claims and unreadable records are kept whole): the kept record
 * drops them, which halves what a worker holds through its passes and what V8's collector has to mark.
 */
const hold = (record: RecordedEvent): void => {
  const read = decode(record);
  if (read?.ok === true) {
    const { id, streamId, revision, position, type } = record;
    const kept: RecordedEvent = { id, streamId, revision, position, type, data: NOTHING, metadata: NOTHING };
    records.push(kept);
    decoded.push({ ok: true, value: { ...read.value, record: kept } });
    return;
  }
  records.push(record);
  decoded.push(read);
};

const isFactEvent = (record: RecordedEvent): boolean => {
  if (isFactClaim(record)) return false;
  const ref = parseStreamId(record.streamId);
  return ref !== undefined && FACT_KINDS.has(ref.kind);
};

const send = (message: FromWorker) => port.postMessage(message);

/** The contract of a PartitionSource's module (adapters/driven/store/sqlite/events-db-reader.ts implements it). */
type ReadRange = (
  file: string,
  range: { after: bigint; head: bigint },
  keep: (streamId: unknown, type: unknown, claimData: unknown) => boolean,
  tally: { rows: number; last: bigint; lastId: unknown },
) => Iterable<RecordedEvent>;

/**
 * Reads this partition's records straight from the store's file: every worker walks the rows up to the same head,
 * and only the rows routed here are JSON-parsed and decoded, so no record is cloned between threads.
 */
const readPartition = async (source: PartitionSource, head: bigint, partition: number, count: number): Promise<void> => {
  const { readEventsDbRange } = (await import(source.module)) as { readEventsDbRange: ReadRange };
  const tally: { rows: number; last: bigint; lastId: unknown } = { rows: 0, last: 0n, lastId: undefined };
  const keep = (streamId: unknown, type: unknown, claimData: unknown): boolean => {
    // A row broken in its stream id or type is routed by '' to one worker, whose row parse reports it.
    const stream = typeof streamId === 'string' ? streamId : '';
    return partitionOf(typeof type === 'string' ? routeStreamOf(stream, type, claimData) : stream, count) === partition;
  };
  for (const record of readEventsDbRange(source.file, { after: 0n, head }, keep, tally)) hold(record);
  send({ type: 'read', rows: tally.rows, last: tally.last, lastId: String(tally.lastId) });
};

/** CPU time of this thread in ms, from Linux's per-thread accounting (clock ticks of 10 ms); undefined elsewhere. */
const threadCpuMs = (): number | undefined => {
  try {
    // Fields after the parenthesised command name: state is field 3, utime and stime are fields 14 and 15.
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
};

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'read':
      // A failure rejects the promise: unhandled in a worker, it ends the thread with an 'error' the pool reports.
      void readPartition(message.source, message.head, message.partition, message.count);
      return;
    case 'records':
      for (const record of message.records) hold(record);
      return;
    case 'speculate': {
      ({ revisions: own, refused: ownRefused } = speculateFactRevisions(records, decoded, refuse));
      send({ type: 'speculated', revisions: own });
      return;
    }
    case 'verify': {
      const timeline = new FactTimeline();
      // Streams are disjoint between partitions: merge by position so each stream's revisions stay in order.
      timeline.add([...own, ...message.revisions].sort((a, b) => (a.position < b.position ? -1 : 1)));
      verifier = new FleetVerifier({ views: timeline });
      const refused = new Set<bigint>();
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        if (!verifier.apply(record, decoded[i]) && isFactEvent(record)) refused.add(record.position);
      }
      const consistent = refused.size === ownRefused.size && [...refused].every((p) => ownRefused.has(p));
      refuse = refused;
      const states: Record<string, Record<string, number>> = {};
      for (const { kind, snapshot } of verifier.entities.values()) {
        const perKind = (states[kind] ??= {});
        const state = stateOf(snapshot);
        perKind[state] = (perKind[state] ?? 0) + 1;
      }
      send({ type: 'verified', consistent, tally: verifier.tally, states, position: verifier.position, threadCpuMs: threadCpuMs() });
      return;
    }
    case 'state': {
      const v = verifier!;
      send({
        type: 'state',
        entities: [...v.entities].map(([streamId, e]) => entityTuple(streamId, e)),
        claims: [...v.claims].map(([claimant, held]) => claimTuple(claimant, held)),
      });
      return;
    }
    default: {
      const never: never = message;
      throw new Error(`replay worker: unknown message ${JSON.stringify(never)}`);
    }
  }
});
