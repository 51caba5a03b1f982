import { isFactClaim } from '../../domain/fact-claims.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { parseStreamId } from '../../domain/streams.ts';
import { evaluate, initialSnapshot, machineEvent, viewOf, type EntitySnapshot } from '../../machines/index.ts';
import { FACT_KINDS, type FactRevision } from './fact-timeline.ts';
import type { ReadForJudging } from './judged-event.ts';

/**
 * The first pass of a partitioned replay: the revisions of this partition's fact entities (the kinds guards read
 * as facts) over global positions, each event judged by its own machine with the guards over the entity itself but
 * without those over other entities (`trusted`), because their facts live in other partitions. It is a guess of the
 * exact timeline: `refuse` holds the events the second pass found refused with every guard, so that the next guess
 * leaves them out; the guess is exact once both passes refuse the same events (see pool.ts in the adapter).
 */
export const speculateFactRevisions = (
  records: readonly RecordedEvent[],
  decoded: readonly (ReadForJudging | undefined)[],
  refuse: ReadonlySet<bigint>,
): { revisions: FactRevision[]; refused: Set<bigint> } => {
  const snapshots = new Map<string, EntitySnapshot>();
  const revisions: FactRevision[] = [];
  const refused = new Set<bigint>();
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    if (isFactClaim(record)) continue;
    const ref = parseStreamId(record.streamId);
    if (ref === undefined || !FACT_KINDS.has(ref.kind)) continue;
    const read = decoded[i];
    if (read === undefined || read.ok !== true || refuse.has(record.position)) {
      refused.add(record.position);
      continue;
    }
    const snapshot = snapshots.get(record.streamId) ?? initialSnapshot(ref.kind);
    const { event, at } = read.value;
    const verdict = evaluate(ref.kind, snapshot, machineEvent(event, at, {}, true));
    if (!verdict.ok) {
      refused.add(record.position);
      continue;
    }
    snapshots.set(record.streamId, verdict.snapshot);
    revisions.push({ streamId: record.streamId, position: record.position, view: viewOf(verdict.snapshot) });
  }
  return { revisions, refused };
};
