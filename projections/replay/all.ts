import { describeRefusal } from '../../domain/errors.ts';
import { factClaimOf, isFactClaim } from '../../domain/fact-claims.ts';
import { ENTITY_KINDS, parseStreamId, streamIdOf, type EntityKind, type EntityView } from '../../domain/streams.ts';
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
  /** Stored events read (fact claims, the store's concurrency markers, are not counted). */
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

const otherEntityAt = (snapshots: ReadonlyMap<string, { snapshot: EntitySnapshot }>, streamId: string): EntityView | undefined => {
  const other = snapshots.get(streamId);
  return other === undefined ? undefined : viewOf(other.snapshot);
};

/**
 * Replays every entity in one pass over the global log. Entities are kept in memory in global order, so the
 * cross-entity facts of each event are exactly the other entities as they stood at its position (or, for a
 * decision that claimed its facts first, at its claims).
 */
export const replayAll = async (store: EventStore, onProgress?: (done: number) => void): Promise<FleetReplay> => {
  const snapshots = new Map<string, { kind: EntityKind; id: string; snapshot: EntitySnapshot }>();
  const findings: Finding[] = [];
  const kinds = Object.fromEntries(ENTITY_KINDS.map((k) => [k, { entities: 0, events: 0, states: {} }])) as Record<EntityKind, KindSummary>;
  let events = 0;
  let foreignEvents = 0;
  const otherEntity: FactReader = (kind, id) => otherEntityAt(snapshots, streamIdOf(kind, id));
  // Per claimant stream, the facts its latest claiming command saw at its claims (stores without multi-stream
  // conditions commit a decision against a fact by claiming it first: domain/fact-claims.ts).
  const claims = new Map<string, { commandId: string; views: Map<string, EntityView | undefined> }>();
  for await (const record of store.readAll()) {
    if (isFactClaim(record)) {
      const claim = factClaimOf(record);
      if (claim === undefined) {
        findings.push(findingAt(record, 'unreadable: malformed fact claim'));
        continue;
      }
      let held = claims.get(claim.claimant);
      if (held === undefined || held.commandId !== claim.commandId) claims.set(claim.claimant, (held = { commandId: claim.commandId, views: new Map() }));
      held.views.set(record.streamId, otherEntityAt(snapshots, record.streamId));
      continue;
    }
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
    if (read.ok === 'claim') continue;
    if (!read.ok) {
      findings.push(findingAt(record, read.reason));
      continue;
    }
    const { event, at, metadata } = read.value;
    const held = claims.get(record.streamId);
    const reader: FactReader =
      held === undefined || held.commandId !== metadata.commandId
        ? otherEntity
        : (kind, id) => {
            const streamId = streamIdOf(kind, id);
            return held.views.has(streamId) ? held.views.get(streamId) : otherEntity(kind, id);
          };
    const facts = gatherFacts(event, entry.snapshot.context, reader);
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
