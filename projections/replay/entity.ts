import { describeRefusal } from '../../domain/errors.ts';
import { factClaimOf } from '../../domain/fact-claims.ts';
import { parseStreamId, streamIdOf, type EntityKind } from '../../domain/streams.ts';
import { evaluate, gatherFactsAsync, initialSnapshot, machineEvent, readStored, stateOf, viewOf, type EntitySnapshot } from '../../machines/index.ts';
import { applyStored, BrokenHistoryError, emptyEntity, type EntityView } from '../../machines/index.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';

/** One stored event as the auditor sees it: what it was, who did it, and the state after it. */
export interface ReplayStep {
  readonly position: bigint;
  readonly revision: bigint;
  readonly type: string;
  readonly occurredAt?: string;
  readonly actor?: string;
  readonly causationId?: string;
  readonly accepted: boolean;
  /** State after the event (unchanged when the event was refused). */
  readonly state: string;
  readonly reason?: string;
}

export interface Finding {
  readonly streamId: string;
  readonly position: bigint;
  readonly revision: bigint;
  readonly type: string;
  readonly reason: string;
}

export interface EntityReplay {
  readonly streamId: string;
  readonly kind: EntityKind;
  readonly steps: readonly ReplayStep[];
  readonly state: string;
  readonly verdict: { readonly ok: true } | { readonly ok: false; readonly findings: readonly Finding[] };
}

/**
 * Another entity as it stood just before `position`, or, when the decision claimed it first (a fact claim by the
 * same command for the same claimant, domain/fact-claims.ts), as it stood at its latest such claim.
 */
const viewBefore = async (
  store: EventStore,
  kind: EntityKind,
  id: string,
  position: bigint,
  claimant: { readonly streamId: string; readonly commandId: string },
): Promise<{ view: EntityView | undefined; broken?: string }> => {
  let records = (await store.readStream(streamIdOf(kind, id))).filter((r) => r.position < position);
  const claimedAt = records.findLastIndex((r) => {
    const claim = factClaimOf(r);
    return claim !== undefined && claim.claimant === claimant.streamId && claim.commandId === claimant.commandId;
  });
  if (claimedAt >= 0) records = records.slice(0, claimedAt);
  if (records.length === 0) return { view: undefined };
  try {
    const entity = applyStored(emptyEntity(kind, id), records);
    return { view: entity.events.length === 0 ? undefined : viewOf(entity.snapshot) };
  } catch (error) {
    // The other entity's own history is broken: say so, rather than blame this entity's guard for it.
    if (error instanceof BrokenHistoryError) return { view: undefined, broken: error.message };
    throw error;
  }
};

/**
 * Replays one entity's stored events through its machine with every guard, cross-entity ones included (the
 * other entities as they stood at each event's position). An event the machine would not accept is a finding.
 */
export const replayEntity = async (store: EventStore, streamId: string, until?: (r: RecordedEvent) => boolean): Promise<EntityReplay> => {
  const ref = parseStreamId(streamId);
  if (ref === undefined) throw new RangeError(`not an entity stream: ${streamId} (expected <kind>-<id>)`);
  let snapshot: EntitySnapshot = initialSnapshot(ref.kind, ref.id);
  const steps: ReplayStep[] = [];
  const findings: Finding[] = [];
  const refuse = (base: Omit<ReplayStep, 'accepted' | 'state'>, reason: string): void => {
    findings.push({ streamId, position: base.position, revision: base.revision, type: base.type, reason });
    steps.push({ ...base, accepted: false, state: stateOf(snapshot), reason });
  };
  /** The stream's previous record (its position), and its last append: command id and the position it ended at. */
  let previous: bigint | undefined;
  let append: { commandId: string; position: bigint } | undefined;
  for (const record of await store.readStream(streamId)) {
    if (until !== undefined && !until(record)) break;
    const base = { position: record.position, revision: record.revision, type: record.type };
    // The stream read by revision must be the stream in global order, as the fleet replay reads it (verifier.ts).
    const outOfOrder = previous !== undefined && record.position <= previous;
    previous = record.position;
    if (outOfOrder) refuse(base, `revision ${record.revision} is stored before the revision ahead of it: the stream's order is broken`);
    const read = readStored(record);
    if (read.ok === 'claim') continue;
    if (!read.ok) {
      refuse(base, read.reason);
      continue;
    }
    const { event, metadata, at } = read.value;
    // One command is one append, at consecutive places of the log (verifier.ts): the same command id again, with
    // anything stored in between, is a command recorded twice, which the engine never does.
    // Adjacent positions hold nothing between them: only a gap is asked of the store.
    if (append !== undefined && append.commandId === metadata.commandId && record.position !== append.position + 1n) {
      let next: bigint | undefined;
      for await (const r of store.readAll({ afterPosition: append.position, maxCount: 1 })) next = r.position;
      if (next !== record.position) {
        refuse(base, `command ${metadata.commandId} was recorded by an earlier append of this stream: a command is recorded once`);
        continue;
      }
    }
    append = { commandId: metadata.commandId, position: record.position };
    const brokenDependencies: string[] = [];
    const facts = await gatherFactsAsync(event, snapshot.context, async (kind, id) => {
      const { view, broken } = await viewBefore(store, kind, id, record.position, { streamId, commandId: metadata.commandId });
      if (broken !== undefined) brokenDependencies.push(broken);
      return view;
    });
    const verdict = evaluate(ref.kind, snapshot, machineEvent(event, at, facts));
    const who = { occurredAt: metadata.occurredAt, actor: metadata.actor.id, causationId: metadata.causationId };
    if (verdict.ok) {
      snapshot = verdict.snapshot;
      steps.push({ ...base, ...who, accepted: true, state: stateOf(snapshot) });
    } else {
      refuse({ ...base, ...who }, [describeRefusal(event.type, verdict), ...brokenDependencies.map((b) => `it depends on ${b}`)].join('; '));
    }
  }
  return {
    streamId,
    kind: ref.kind,
    steps,
    state: stateOf(snapshot),
    verdict: findings.length === 0 ? { ok: true } : { ok: false, findings },
  };
};
