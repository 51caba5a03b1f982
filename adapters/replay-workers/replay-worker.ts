import { parentPort } from 'node:worker_threads';
import { isFactClaim } from '../../domain/fact-claims.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { parseStreamId } from '../../domain/streams.ts';
import { readStored, stateOf, type ReadStored } from '../../machines/index.ts';
import { claimTuple, entityTuple } from '../../projections/replay/checkpoint.ts';
import { FACT_KINDS, FactTimeline, type FactRevision } from '../../projections/replay/fact-timeline.ts';
import { speculateFactRevisions } from '../../projections/replay/speculation.ts';
import { FleetVerifier } from '../../projections/replay/verifier.ts';
import type { ToWorker, FromWorker } from './messages.ts';

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

const isFactEvent = (record: RecordedEvent): boolean => {
  if (isFactClaim(record)) return false;
  const ref = parseStreamId(record.streamId);
  return ref !== undefined && FACT_KINDS.has(ref.kind);
};

const send = (message: FromWorker) => port.postMessage(message);

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'records':
      for (const record of message.records) {
        records.push(record);
        decoded.push(decode(record));
      }
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
      send({ type: 'verified', consistent, tally: verifier.tally, states, position: verifier.position });
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
