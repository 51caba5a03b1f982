import { hash } from 'node:crypto';
import { parentPort, type MessagePort } from 'node:worker_threads';
import { isFactClaim } from '../../domain/fact-claims.ts';
import type { JsonObject, RecordedEvent } from '../../domain/ports/event-store.ts';
import { parseStreamId } from '../../domain/streams.ts';
import { readStored, stateOf, type ReadStored } from '../../machines/index.ts';
import { judgedMetadata, type ReadForJudging } from '../../projections/replay/judged-event.ts';
import { claimTuple, entityTuple, recordBytes, revisionTuples } from '../../projections/replay/checkpoint.ts';
import { COMMAND_DIGEST_BYTES, commandDigest } from '../../projections/replay/command-ids.ts';
import { FACT_KINDS, FactTimeline, type FactRevision } from '../../projections/replay/fact-timeline.ts';
import { JUDGE, ORDER_ONLY, partitionOf, roleIn, type RecordRole } from '../../projections/replay/partition.ts';
import { speculateFactRevisions } from '../../projections/replay/speculation.ts';
import { FleetVerifier } from '../../projections/replay/verifier.ts';
import type { CommandDigests, FromWorker, PeerRevisions, RecordDigests, ToWorker, WorkerCpu } from './messages.ts';
import { threadCpuMs } from './thread-cpu.ts';

/**
 * One partition of a fleet replay (pool.ts drives it): holds its records, decoded once on arrival (the zod parse of
 * stored events), then alternates the two passes the pool asks for.
 */
const port = parentPort;
if (port === null) throw new Error('replay-worker.ts runs as a worker thread (adapters/replay-workers/pool.ts)');

/** This thread's CPU per phase (thread-cpu.ts); `load` is everything before this module ran: start-up and imports. */
const cpu: WorkerCpu = { load: threadCpuMs() ?? Number.NaN, read: 0, speculate: 0, verify: 0 };
const timed = <T>(phase: Exclude<keyof WorkerCpu, 'load'>, work: () => T): T => {
  const before = threadCpuMs() ?? Number.NaN;
  try {
    return work();
  } finally {
    cpu[phase] += (threadCpuMs() ?? Number.NaN) - before;
  }
};

const records: RecordedEvent[] = [];
const decoded: (ReadForJudging | undefined)[] = [];
/** What this partition does with each record (partition.ts `roleIn`). */
const roles: RecordRole[] = [];
let refuse = new Set<bigint>();
let own: FactRevision[] = [];
let ownRefused = new Set<bigint>();
let verifier: FleetVerifier | undefined;
/** This partition's events whose command id an earlier record of any partition holds (the pool's `repeats`). */
let repeated = new Set<bigint>();

const decode = (record: RecordedEvent): ReadStored | undefined => {
  if (isFactClaim(record)) return undefined;
  const ref = parseStreamId(record.streamId);
  return ref === undefined ? undefined : readStored(record);
};

const NOTHING: JsonObject = Object.freeze({});

/**
 * Keeps a record and its decoding for the passes. A decoded event's data lives on in its zod-parsed copy, and no pass
 * reads the stored data and metadata again (fact claims and unreadable records are kept whole): the kept record drops
 * them, which halves what a worker holds through its passes and what V8's collector has to mark. Of the parsed
 * metadata only the command id and type are kept (judged-event.ts).
 */
const hold = (record: RecordedEvent, role: RecordRole): void => {
  roles.push(role);
  const read = decode(record);
  if (read?.ok === true) {
    const { id, streamId, revision, position, type } = record;
    const kept: RecordedEvent = { id, streamId, revision, position, type, data: NOTHING, metadata: NOTHING };
    records.push(kept);
    const { event, at, metadata } = read.value;
    decoded.push({ ok: true, value: { event, at, metadata: judgedMetadata(metadata) } });
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
const readPartition = async (message: Extract<ToWorker, { type: 'read' }>): Promise<void> => {
  const { source, head, partition, count } = message;
  const { readEventsDbRange } = (await import(source.module)) as { readEventsDbRange: ReadRange };
  const tally: { rows: number; last: bigint; lastId: unknown } = { rows: 0, last: 0n, lastId: undefined };
  // A row broken in its stream id or type is routed by '' to one worker, whose row parse reports it.
  const roleOf = (streamId: unknown, type: unknown, data: unknown): RecordRole | undefined => {
    const stream = typeof streamId === 'string' ? streamId : '';
    if (typeof type !== 'string') return partitionOf(stream, count) === partition ? JUDGE : undefined;
    return roleIn(stream, type, data, partition, count);
  };
  const keep = (streamId: unknown, type: unknown, claimData: unknown): boolean => roleOf(streamId, type, claimData) !== undefined;
  const positions: bigint[] = [];
  const hashes: Buffer[] = [];
  timed('read', () => {
    for (const record of readEventsDbRange(source.file, { after: 0n, head }, keep, tally)) {
      // Only a fact claim may be kept for another role than judging it (no second routing of every row).
      const role = isFactClaim(record) ? (roleOf(record.streamId, record.type, record.data) ?? JUDGE) : JUDGE;
      // The record as stored, before hold() drops its data and metadata; digested by the partition that judges it.
      if (message.digests && role !== ORDER_ONLY) {
        positions.push(record.position);
        hashes.push(hash('sha256', recordBytes(record), 'buffer'));
      }
      hold(record, role);
    }
  });
  if (!message.digests) {
    send({ type: 'read', rows: tally.rows, last: tally.last, lastId: String(tally.lastId) });
    return;
  }
  const digests = { positions: new BigInt64Array(positions.length), hashes: new Uint8Array(hashes.length * 32) } satisfies RecordDigests;
  positions.forEach((p, i) => (digests.positions[i] = p));
  hashes.forEach((h, i) => digests.hashes.set(h, i * 32));
  port.postMessage({ type: 'read', rows: tally.rows, last: tally.last, lastId: String(tally.lastId), digests } satisfies FromWorker, [
    digests.positions.buffer, digests.hashes.buffer,
  ]);
};

/** The command id of each event this partition judges, in position order: the records the verifier asks it of. */
const commandDigests = (): CommandDigests => {
  const positions: bigint[] = [];
  const ids: string[] = [];
  for (let i = 0; i < records.length; i++) {
    const read = decoded[i];
    if (read?.ok !== true || roles[i] === ORDER_ONLY) continue;
    positions.push(records[i]!.position);
    ids.push(commandDigest(read.value.metadata.commandId));
  }
  const answer = { positions: BigInt64Array.from(positions), digests: new Uint8Array(ids.length * COMMAND_DIGEST_BYTES) };
  ids.forEach((id, n) => {
    for (let b = 0; b < COMMAND_DIGEST_BYTES; b++) answer.digests[n * COMMAND_DIGEST_BYTES + b] = id.charCodeAt(b);
  });
  return answer;
};

/** Ports to the other workers (pool.ts connects every two), and the revisions they sent per round. */
const peers: MessagePort[] = [];
const received = new Map<number, (readonly FactRevision[])[]>();
const whenReceived = new Map<number, () => void>();

/** The revisions every peer guessed for `round`, once all have arrived. */
const peerRevisions = async (round: number): Promise<(readonly FactRevision[])[]> => {
  if ((received.get(round)?.length ?? 0) < peers.length) await new Promise<void>((resolve) => whenReceived.set(round, resolve));
  const all = received.get(round) ?? [];
  received.delete(round);
  whenReceived.delete(round);
  return all;
};

/** Second pass: every event of the partition with every guard, facts read from the timeline as of its position. */
const verify = (fromPeers: readonly (readonly FactRevision[])[], claimsForeign: boolean): Extract<FromWorker, { type: 'verified' }> => {
  const timeline = new FactTimeline();
  // Each list is in position order and streams are disjoint between partitions, so every stream's revisions arrive in
  // order without merging the lists.
  timeline.add(own);
  for (const revisions of fromPeers) timeline.add(revisions);
  // Whether a command id was recorded before is the pool's answer over every partition (a stream's and another's).
  verifier = new FleetVerifier({ views: timeline, claimsForeign, commands: { recordedBefore: (_, position) => repeated.has(position) } });
  const refused = new Set<bigint>();
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const role = roles[i]!;
    if (role === ORDER_ONLY) verifier.orderClaim(record);
    else if (!verifier.apply(record, decoded[i], role === JUDGE) && isFactEvent(record)) refused.add(record.position);
  }
  const consistent = refused.size === ownRefused.size && [...refused].every((p) => ownRefused.has(p));
  refuse = refused;
  const states: Record<string, Record<string, number>> = {};
  for (const { kind, snapshot } of verifier.entities.values()) {
    const perKind = (states[kind] ??= {});
    const state = stateOf(snapshot);
    perKind[state] = (perKind[state] ?? 0) + 1;
  }
  return { type: 'verified', consistent, tally: verifier.tally, states, position: verifier.position, threadCpuMs: undefined, cpu };
};

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'read':
      // A failure rejects the promise: unhandled in a worker, it ends the thread with an 'error' the pool reports.
      void readPartition(message);
      return;
    case 'records':
      timed('read', () => message.records.forEach((record, i) => hold(record, message.roles[i]!)));
      return;
    case 'commands': {
      const answer = commandDigests();
      port.postMessage({ type: 'commands', ...answer } satisfies FromWorker, [answer.positions.buffer as ArrayBuffer, answer.digests.buffer as ArrayBuffer]);
      return;
    }
    case 'repeats':
      repeated = new Set(message.positions);
      // Refused by the verdict pass whatever its facts: the first guess leaves them out already.
      refuse = new Set([...refuse, ...repeated]);
      return;
    case 'peers':
      for (const peer of message.ports) {
        peer.on('message', (m: PeerRevisions) => {
          const got = received.get(m.round) ?? [];
          received.set(m.round, got);
          got.push(m.revisions);
          if (got.length === peers.length) whenReceived.get(m.round)?.();
        });
        peers.push(peer);
      }
      return;
    case 'speculate': {
      ({ revisions: own, refused: ownRefused } = timed('speculate', () => speculateFactRevisions(records, decoded, refuse)));
      for (const peer of peers) peer.postMessage({ round: message.round, revisions: own } satisfies PeerRevisions);
      send({ type: 'speculated', revisions: own.length });
      return;
    }
    case 'verify': {
      // A failure rejects the promise: unhandled in a worker, it ends the thread with an 'error' the pool reports.
      void peerRevisions(message.round).then((revisions) => {
        const verified = timed('verify', () => verify(revisions, message.claimsForeign));
        send({ ...verified, threadCpuMs: threadCpuMs(), cpu });
      });
      return;
    }
    case 'state': {
      const v = verifier!;
      send({
        type: 'state',
        entities: [...v.entities].map(([streamId, e]) => entityTuple(streamId, e)),
        claims: [...v.claims].flatMap(([claimant, claimed]) => [...claimed.values()].map((held) => claimTuple(claimant, held))),
        revisions: revisionTuples(v),
      });
      return;
    }
    default: {
      const never: never = message;
      throw new Error(`replay worker: unknown message ${JSON.stringify(never)}`);
    }
  }
});
