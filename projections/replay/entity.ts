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
 * The other entity is replayed with every guard of its own and stands where its accepted events leave it, as the
 * fleet replay takes it: an event of it the machines would not accept is reported as a broken dependency, and never
 * counts (found in review: a fact taken as absent once its stream had a finding let a guard that passes on an absent
 * fact, the factory key's, pass where the fleet replay refused). A fact read back while its own replay runs (a cycle:
 * a predecessor's rotation reads its successor, whose issuance reads the predecessor) is answered from that replay,
 * which has judged everything before the event it is at.
 */
const viewBefore = async (
  kind: EntityKind,
  id: string,
  position: bigint,
  claimant: Claimant,
  judged: FactJudgements,
  depth: number,
): Promise<{ view: EntityView | undefined; broken?: string }> => {
  const streamId = streamIdOf(kind, id);
  const stored = await judged.records(streamId);
  let records = stored.filter((r) => r.position < position);
  const claimedAt = claimant.foreign ? -1 : records.findLastIndex((r) => {
    const claim = factClaimOf(r);
    return claim !== undefined && r.position > claimant.after && claim.claimant === claimant.streamId && claim.commandId === claimant.commandId;
  });
  if (claimedAt >= 0) records = records.slice(0, claimedAt);
  if (records.length === 0) return { view: undefined };
  const last = records.at(-1)!.position;
  const found = await judged.judge(streamId, depth);
  // Judged whole, or being judged further out (a cycle) and judged through `last` already: exact (found in review: a
  // cycle was answered by a trusted rebuild, which applied what the fleet replay refuses, or failed on it).
  const judgement = found?.judged ?? (found?.inProgress !== undefined && last < found.inProgress.at ? found.inProgress : undefined);
  if (judgement !== undefined) {
    const broken = describeBroken(streamId, judgement.findings[0], last);
    const view = judgement.views.findLast((v) => v.position <= last)?.view;
    return broken === undefined ? { view } : { view, broken };
  }
  // A cycle read past where it is judged, or past the depth: taken as stored, as a trusted rebuild would take it, and
  // nothing judged on it is kept.
  judged.assume(streamId);
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
 * A stream's replay with every guard, as far as it went: its findings in order, its view after each event it
 * accepted, and the position of the record it is at (everything before it is judged).
 */
interface Judgement {
  at: bigint;
  readonly findings: Finding[];
  readonly views: { readonly position: bigint; readonly view: EntityView }[];
}
const startJudgement = (): Judgement => ({ at: -1n, findings: [], views: [] });

/**
 * The fact streams one entity replay reads, shared by every replay nested under it: each is read once and replayed
 * with every guard once, whole (a cache per nested replay, one replay per position read, cost some R^3 reads for R
 * events of a fact: found in review). A stream read while its own replay runs (a cycle) is answered from that replay
 * as far as it went; past it, or past the depth, the caller takes the stream as stored, as a trusted rebuild would.
 */
class FactJudgements {
  readonly #judgements = new Map<string, Judgement>();
  readonly #records = new Map<string, Promise<readonly RecordedEvent[]>>();
  /** Streams being judged, outermost first, with their replays so far. */
  readonly #judging: { readonly streamId: string; readonly judgement: Judgement }[] = [];
  /**
   * Streams whose verdict took something as sound without judging it (a stream being judged, read past where it is
   * judged, or one past the depth): not kept, so a later read judges them again once what they assumed is known
   * (found in review: a verdict that assumed a broken credential sound was kept for the rest of the call, and one
   * made at the depth limit was reused where it is judged in full).
   */
  readonly #assumed = new Set<string>();
  /** `replaying`: the entity the call replays, being judged from the start (a fact that reads it back is a cycle). */
  constructor(
    private readonly store: EventStore,
    replaying: string,
    readonly top: Judgement = startJudgement(),
  ) {
    this.#judging.push({ streamId: replaying, judgement: top });
  }

  /** The stream's records, read once per call. */
  records(streamId: string): Promise<readonly RecordedEvent[]> {
    let read = this.#records.get(streamId);
    if (read === undefined) this.#records.set(streamId, (read = this.store.readStream(streamId)));
    return read;
  }

  /** The stream judged whole, or its replay in progress (a cycle); undefined past the depth. */
  async judge(streamId: string, depth: number): Promise<{ judged?: Judgement; inProgress?: Judgement } | undefined> {
    // A verdict already known holds at any depth (found in review: one cut by the depth limit was taken as sound).
    const known = this.#judgements.get(streamId);
    if (known !== undefined) return { judged: known };
    const judging = this.#judging.find((j) => j.streamId === streamId);
    if (judging !== undefined) return { inProgress: judging.judgement };
    if (depth >= MAX_FACT_DEPTH) return undefined;
    const judgement = startJudgement();
    this.#judging.push({ streamId, judgement });
    try {
      await replayEntityAt(this.store, streamId, undefined, depth + 1, this, judgement);
    } finally {
      this.#judging.pop();
    }
    if (!this.#assumed.delete(streamId)) this.#judgements.set(streamId, judgement);
    return { judged: judgement };
  }

  /** `streamId` is taken as stored: every stream judged inside its replay (or every one, past the depth) assumed it. */
  assume(streamId: string): void {
    const judging = this.#judging.findIndex((j) => j.streamId === streamId);
    for (const inner of this.#judging.slice(judging + 1)) this.#assumed.add(inner.streamId);
  }
}

const describeBroken = (streamId: string, finding: Finding | undefined, position: bigint): string | undefined =>
  finding !== undefined && finding.position <= position ? `${streamId} has a broken history at position ${finding.position}: ${finding.reason}` : undefined;

/**
 * Replays one entity's stored events through its machine with every guard, cross-entity ones included (the
 * other entities as they stood at each event's position). An event the machine would not accept is a finding.
 */
export const replayEntity = (store: EventStore, streamId: string, until?: (r: RecordedEvent) => boolean): Promise<EntityReplay> => {
  const judged = new FactJudgements(store, streamId);
  return replayEntityAt(store, streamId, until, 0, judged, judged.top);
};

const replayEntityAt = async (
  store: EventStore,
  streamId: string,
  until: ((r: RecordedEvent) => boolean) | undefined,
  depth: number,
  judged: FactJudgements,
  /** This replay as it goes, for the replays that read the entity as a fact. */
  progress: Judgement,
): Promise<EntityReplay> => {
  const ref = parseStreamId(streamId);
  const foreign = claimsAreForeign(store);
  if (ref === undefined) throw new RangeError(`not an entity stream: ${streamId} (expected <kind>-<id>)`);
  let snapshot: EntitySnapshot = initialSnapshot(ref.kind, ref.id);
  const steps: ReplayStep[] = [];
  const { findings } = progress;
  const refuse = (base: Omit<ReplayStep, 'accepted' | 'state'>, reason: string): void => {
    findings.push({ streamId, position: base.position, revision: base.revision, type: base.type, reason });
    steps.push({ ...base, accepted: false, state: stateOf(snapshot), reason });
  };
  /** The stream's previous record (its position), and its last event: its command id and position. */
  let previous: bigint | undefined;
  let last: { commandId: string; position: bigint } | undefined;
  for (const record of depth === 0 ? await store.readStream(streamId) : await judged.records(streamId)) {
    if (until !== undefined && !until(record)) break;
    progress.at = record.position;
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
      const { view, broken } = await viewBefore(kind, id, record.position, claimant, judged, depth);
      if (broken !== undefined) brokenDependencies.push(broken);
      return view;
    });
    const verdict = evaluate(ref.kind, snapshot, machineEvent(event, at, facts));
    const who = { occurredAt: metadata.occurredAt, actor: metadata.actor.id, causationId: metadata.causationId };
    if (verdict.ok) {
      snapshot = verdict.snapshot;
      steps.push({ ...base, ...who, accepted: true, state: stateOf(snapshot) });
      progress.views.push({ position: record.position, view: viewOf(snapshot) });
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
