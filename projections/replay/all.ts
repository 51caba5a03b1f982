import { describeRefusal } from '../../domain/errors.ts';
import { ENTITY_KINDS, parseStreamId, streamIdOf, type EntityKind } from '../../domain/streams.ts';
import { evaluate, gatherFacts, initialSnapshot, readStored, stateOf, viewOf, type EntitySnapshot, type FactReader } from '../../machines/index.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import type { Finding } from './entity.ts';

export interface KindSummary {
  entities: number;
  events: number;
  /** Entities per final state after replay. */
  states: Record<string, number>;
}

export interface FleetReplay {
  readonly events: number;
  readonly kinds: Record<EntityKind, KindSummary>;
  /** Events in streams that are not entity streams (other tools' streams); not replayed. */
  readonly foreignEvents: number;
  readonly findings: readonly Finding[];
  readonly brokenStreams: readonly string[];
}

const findingAt = (r: RecordedEvent, reason: string): Finding => ({
  streamId: r.streamId, position: r.position, revision: r.revision, type: r.type, reason,
});

/**
 * Replays every entity in one pass over the global log. Entities are kept in memory in global order, so the
 * cross-entity facts of each event are exactly the other entities as they stood at its position.
 */
export const replayAll = async (store: EventStore, onProgress?: (done: number) => void): Promise<FleetReplay> => {
  const snapshots = new Map<string, { kind: EntityKind; id: string; snapshot: EntitySnapshot }>();
  const findings: Finding[] = [];
  const kinds = Object.fromEntries(ENTITY_KINDS.map((k) => [k, { entities: 0, events: 0, states: {} }])) as Record<EntityKind, KindSummary>;
  let events = 0;
  let foreignEvents = 0;
  const otherEntity: FactReader = (kind, id) => {
    const other = snapshots.get(streamIdOf(kind, id));
    return other === undefined ? undefined : viewOf(other.snapshot);
  };
  for await (const record of store.readAll()) {
    events++;
    if (onProgress !== undefined && events % 10_000 === 0) onProgress(events);
    let entry = snapshots.get(record.streamId);
    if (entry === undefined) {
      const ref = parseStreamId(record.streamId);
      if (ref === undefined) {
        foreignEvents++;
        continue;
      }
      entry = { kind: ref.kind, id: ref.id, snapshot: initialSnapshot(ref.kind, ref.id) };
      snapshots.set(record.streamId, entry);
      kinds[ref.kind].entities++;
    }
    kinds[entry.kind].events++;
    const read = readStored(record, entry.id);
    if (!read.ok) {
      findings.push(findingAt(record, read.reason));
      continue;
    }
    const { event, at } = read.value;
    const facts = gatherFacts(event, entry.snapshot.context, otherEntity);
    const verdict = evaluate(entry.kind, entry.snapshot, { ...event, at, facts });
    if (verdict.ok) entry.snapshot = verdict.snapshot;
    else findings.push(findingAt(record, describeRefusal(event.type, verdict)));
  }
  for (const { kind, snapshot } of snapshots.values()) {
    const state = stateOf(snapshot);
    kinds[kind].states[state] = (kinds[kind].states[state] ?? 0) + 1;
  }
  onProgress?.(events);
  return { events, kinds, foreignEvents, findings, brokenStreams: [...new Set(findings.map((f) => f.streamId))] };
};
