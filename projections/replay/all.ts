import { entityIdOf } from '../../domain/events/index.ts';
import { decodeStored } from '../../domain/stored.ts';
import { ENTITY_KINDS, parseStreamId, streamIdOf, type EntityKind } from '../../domain/streams.ts';
import { evaluate, factSourcesOf, initialSnapshot, stateOf, viewOf, type EntitySnapshot, type Facts, type FactName } from '../../machines/index.ts';
import type { EventStore, RecordedEvent } from '../../adapters/store/port.ts';
import { misaddressed, refusal, type Finding } from './entity.ts';

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
    const decoded = decodeStored(record);
    if (!decoded.ok) {
      findings.push(findingAt(record, `unreadable: ${decoded.reason}`));
      continue;
    }
    const { event, at } = decoded.value;
    if (entityIdOf(event) !== entry.id) {
      findings.push(findingAt(record, misaddressed(event.type, entityIdOf(event), record.streamId)));
      continue;
    }
    const sources = factSourcesOf(event, entry.snapshot.context);
    const facts: Facts = {};
    for (const name in sources) {
      const source = sources[name as FactName]!;
      const other = snapshots.get(streamIdOf(source.kind, source.id));
      facts[name as FactName] = other === undefined ? undefined : viewOf(other.snapshot);
    }
    const verdict = evaluate(entry.kind, entry.snapshot, { ...event, at, facts });
    if (verdict.ok) entry.snapshot = verdict.snapshot;
    else findings.push(findingAt(record, refusal(event.type, verdict)));
  }
  for (const { kind, snapshot } of snapshots.values()) {
    const state = stateOf(snapshot);
    kinds[kind].states[state] = (kinds[kind].states[state] ?? 0) + 1;
  }
  onProgress?.(events);
  return { events, kinds, foreignEvents, findings, brokenStreams: [...new Set(findings.map((f) => f.streamId))] };
};
