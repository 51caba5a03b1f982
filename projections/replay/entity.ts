import { describeRefusal } from '../../domain/errors.ts';
import { factClaimOf } from '../../domain/fact-claims.ts';
import { parseStreamId, streamIdOf, type EntityKind } from '../../domain/streams.ts';
import { evaluate, gatherFactsAsync, initialSnapshot, machineEvent, readStored, stateOf, viewOf, type EntitySnapshot } from '../../machines/index.ts';
import { applyStored, BrokenHistoryError, emptyEntity, type EntityView } from '../../machines/index.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { claimsAreForeign, FOREIGN_CLAIM } from './foreign-claims.ts';

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

/** The claimant's decision a fact claim must be for: its command, and where its previous append (another command) ended. */
interface Claimant {
  readonly streamId: string;
  readonly commandId: string;
  /** Claims at or before this position were taken, or left behind, by an earlier append of the claimant. */
  readonly after: bigint;
  /** The store writes no claims (`claimsAreForeign`): none vouches for anything. */
  readonly foreign: boolean;
}

/**
 * Another entity as it stood just before `position`, or, when the decision claimed it first (a fact claim by the
 * same command for the same claimant since the claimant's previous append, domain/fact-claims.ts), as it stood at its
 * latest such claim. A claim made before the claimant appended another command was that command's leftover, and
 * vouches for nothing later, as in the fleet replay (found in review: it vouched for a decision after a revocation).
 * The other entity is rebuilt with every guard of its own: a fact whose own history the machines would not accept
 * is reported as broken, not taken as it says it stands (found in review).
 */
const viewBefore = async (
  store: EventStore,
  kind: EntityKind,
  id: string,
  position: bigint,
  claimant: Claimant,
  judged: FactJudgements,
  depth: number,
): Promise<{ view: EntityView | undefined; broken?: string }> => {
  const streamId = streamIdOf(kind, id);
  let records = (await store.readStream(streamId)).filter((r) => r.position < position);
  const claimedAt = claimant.foreign ? -1 : records.findLastIndex((r) => {
    const claim = factClaimOf(r);
    return claim !== undefined && r.position > claimant.after && claim.claimant === claimant.streamId && claim.commandId === claimant.commandId;
  });
  if (claimedAt >= 0) records = records.slice(0, claimedAt);
  if (records.length === 0) return { view: undefined };
  const last = records.at(-1)!.position;
  const broken = await judged.brokenThrough(streamId, last, depth);
  if (broken !== undefined) return { view: undefined, broken };
  try {
    const entity = applyStored(emptyEntity(kind, id), records);
    return { view: entity.events.length === 0 ? undefined : viewOf(entity.snapshot) };
  } catch (error) {
    // The other entity's own history is broken: say so, rather than blame this entity's guard for it.
    if (error instanceof BrokenHistoryError) return { view: undefined, broken: error.message };
    throw error;
  }
};

/** How deep facts of facts are judged for one entity's replay (an association's credential's node's subscription). */
const MAX_FACT_DEPTH = 4;

/**
 * The verdicts of the fact streams one entity replay reads, shared by every replay nested under it: each fact stream
 * is replayed with every guard once, whole, and is broken through a position when its first finding is at or before
 * it (a finding never moves earlier for what follows it). A stream being judged (a cycle) or past the depth counts as
 * sound, as a trusted rebuild would take it. (A cache per nested replay, one replay per position read, cost some R^3
 * reads for R events of a fact: found in review.)
 */
class FactJudgements {
  readonly #firstFinding = new Map<string, Finding | undefined>();
  /** Streams being judged, outermost first: a fact read while its own replay runs (a cycle) is taken as sound. */
  readonly #judging: string[] = [];
  /**
   * Streams whose verdict took something as sound without judging it (a stream being judged, or one past the depth):
   * not kept, so a later read judges them again once what they assumed is known (found in review: a verdict that
   * assumed a broken credential sound was kept for the rest of the call, and one made at the depth limit was reused
   * where it is judged in full).
   */
  readonly #assumed = new Set<string>();
  /** `replaying`: the entity the call replays, being judged from the start (a fact that reads it back is a cycle). */
  constructor(
    private readonly store: EventStore,
    replaying: string,
  ) {
    this.#judging.push(replaying);
  }

  async brokenThrough(streamId: string, position: bigint, depth: number): Promise<string | undefined> {
    // A verdict already known holds at any depth (found in review: one cut by the depth limit was taken as sound).
    if (this.#firstFinding.has(streamId)) return describeBroken(streamId, this.#firstFinding.get(streamId), position);
    const judging = this.#judging.indexOf(streamId);
    if (depth >= MAX_FACT_DEPTH || judging >= 0) {
      for (const inner of this.#judging.slice(judging + 1)) this.#assumed.add(inner);
      return undefined;
    }
    this.#judging.push(streamId);
    let first: Finding | undefined;
    try {
      const replay = await replayEntityAt(this.store, streamId, undefined, depth + 1, this);
      first = replay.verdict.ok ? undefined : replay.verdict.findings[0];
    } finally {
      this.#judging.pop();
    }
    if (!this.#assumed.delete(streamId)) this.#firstFinding.set(streamId, first);
    return describeBroken(streamId, first, position);
  }
}

const describeBroken = (streamId: string, finding: Finding | undefined, position: bigint): string | undefined =>
  finding !== undefined && finding.position <= position ? `${streamId} has a broken history at position ${finding.position}: ${finding.reason}` : undefined;

/**
 * Replays one entity's stored events through its machine with every guard, cross-entity ones included (the
 * other entities as they stood at each event's position). An event the machine would not accept is a finding.
 */
export const replayEntity = (store: EventStore, streamId: string, until?: (r: RecordedEvent) => boolean): Promise<EntityReplay> =>
  replayEntityAt(store, streamId, until, 0, new FactJudgements(store, streamId));

const replayEntityAt = async (
  store: EventStore,
  streamId: string,
  until: ((r: RecordedEvent) => boolean) | undefined,
  depth: number,
  judged: FactJudgements,
): Promise<EntityReplay> => {
  const ref = parseStreamId(streamId);
  const foreign = claimsAreForeign(store);
  if (ref === undefined) throw new RangeError(`not an entity stream: ${streamId} (expected <kind>-<id>)`);
  let snapshot: EntitySnapshot = initialSnapshot(ref.kind, ref.id);
  const steps: ReplayStep[] = [];
  const findings: Finding[] = [];
  const refuse = (base: Omit<ReplayStep, 'accepted' | 'state'>, reason: string): void => {
    findings.push({ streamId, position: base.position, revision: base.revision, type: base.type, reason });
    steps.push({ ...base, accepted: false, state: stateOf(snapshot), reason });
  };
  /** The stream's previous record (its position), and its last event: its command id and position. */
  let previous: bigint | undefined;
  let last: { commandId: string; position: bigint } | undefined;
  for (const record of await store.readStream(streamId)) {
    if (until !== undefined && !until(record)) break;
    const base = { position: record.position, revision: record.revision, type: record.type };
    // The stream read by revision must be the stream in global order, as the fleet replay reads it (verifier.ts).
    const outOfOrder = previous !== undefined && record.position <= previous;
    previous = record.position;
    if (outOfOrder) refuse(base, `revision ${record.revision} is stored before the revision ahead of it: the stream's order is broken`);
    const read = readStored(record);
    if (read.ok === 'claim') {
      if (foreign) refuse(base, FOREIGN_CLAIM);
      continue;
    }
    if (!read.ok) {
      refuse(base, read.reason);
      continue;
    }
    const { event, metadata, at } = read.value;
    // A command is one event, appended once (verifier.ts): the same command id again is a command recorded twice,
    // which the engine never does, whatever the event's place or metadata.
    if (last !== undefined && last.commandId === metadata.commandId) {
      refuse(base, `command ${metadata.commandId} was recorded by an earlier append of this stream: a command is recorded once`);
      continue;
    }
    const after = last?.position ?? -1n;
    last = { commandId: metadata.commandId, position: record.position };
    const brokenDependencies: string[] = [];
    const claimant = { streamId, commandId: metadata.commandId, after, foreign };
    const facts = await gatherFactsAsync(event, snapshot.context, async (kind, id) => {
      const { view, broken } = await viewBefore(store, kind, id, record.position, claimant, judged, depth);
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
