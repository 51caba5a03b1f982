import type { EntityKind } from '../../../domain/streams.ts';
import { BrokenHistoryError } from '../../../machines/index.ts';
import { readStreamInTurns, replayEntityToSnapshot } from '../../../projections/replay/entity.ts';
import { replayWithinEntityRecordBound } from './entity-bound.ts';
import { findingsByNewerRules, findingsFollowingNewerRules, type EntityReplay, type Finding } from '../../../projections/replay/index.ts';
import type { Principal, ServiceContext } from '../context.ts';
import { entityReplayTold } from './replay-findings-told.ts';

/** An entity as GET /v1/entities/{kind}/{id} answers it, before its pseudonym's node is left out. */
export interface EntityNow {
  readonly streamId: string;
  readonly state: string;
  readonly revision: bigint;
  /** Its last event: where and when. */
  readonly last: { readonly position: bigint; readonly occurredAt?: string };
  readonly context: Record<string, unknown>;
  /** The first stored event its replay with every guard refuses, and why, in the caller's words (entityReplayTold). */
  readonly broken?: Broken;
}

/**
 * The first refusal, with its rule, and the replay's findings counted as GET /v1/replay counts the fleet's: those by a
 * rule newer than the stored event, and those following from one, are no broken history (review 325: the console's
 * entity page called such an entity's history broken where `credence history` and the overview did not).
 */
export interface Broken {
  readonly position: bigint;
  readonly reason: string;
  readonly rule?: string;
  readonly ruleSince?: string;
  readonly findingsTotal: number;
  readonly findingsByNewerRules: number;
  readonly findingsFollowingNewerRules: number;
}

/**
 * The entity now, judged as GET /v1/replay/{kind}/{id} judges it. The engine rebuilds an entity with its own
 * machine's rules only (machines/rebuild.ts): a stored event refused by a rule reading another entity (a credential
 * issued to a revoked node, written around the engine) was answered as a sound entity (review 237), while one its own
 * machine refuses was a 500. Both are now `broken`, with the state as applied, so an auditor still sees the entity:
 * the engine's (what commands are decided on) when it can rebuild it, else the one its accepted events leave.
 * Undefined when the entity has no events. Only its own stream is replayed (with the facts it read).
 */
export const entityNow = async (
  context: ServiceContext,
  principal: Principal | undefined,
  entityRef: { readonly kind: EntityKind; readonly id: string; readonly streamId: string },
): Promise<EntityNow | undefined> => {
  const { kind, id, streamId } = entityRef;
  const { engine, store } = context.credence;
  let refused: BrokenHistoryError | undefined;
  const entity = await engine.entity(kind, id).catch((error: unknown) => {
    if (!(error instanceof BrokenHistoryError) || error.streamId !== streamId) throw error;
    refused = error;
    return undefined;
  });
  // Held to the entity record bound over the fact streams it reads too, as the replay route (review 423).
  const { replay, snapshot } = await replayWithinEntityRecordBound(context, 'GET /v1/entities/{kind}/{id}/timeline?limit= reads its history in pages', (maxRecords) =>
    replayEntityToSnapshot(store, streamId, undefined, { maxRecords }),
  );
  const first = await firstRefusal(context, principal, replay);
  // The replay checks all the engine does: a refusal it does not find is not one to answer over.
  if (refused !== undefined && first === undefined) throw refused;
  const broken = first === undefined || replay.verdict.ok ? {} : { broken: brokenOf(first, replay.verdict.findings) };
  if (entity !== undefined) {
    const last = entity.events.at(-1);
    if (last === undefined || entity.revision === undefined) return undefined;
    const { position } = last.record;
    return { streamId, state: String(entity.snapshot.value), revision: entity.revision, last: { position, occurredAt: last.metadata.occurredAt }, context: entity.snapshot.context as Record<string, unknown>, ...broken };
  }
  // Its own machine refuses a stored event: the state its accepted events leave, at the stream's last record.
  const step = replay.steps.at(-1);
  // Read in pages with turns of the event loop, as the replay read it (review 242's follow-up: one read was one block).
  const revision = (await readStreamInTurns(store, streamId)).reduce<bigint | undefined>((top, r) => (top === undefined || r.revision > top ? r.revision : top), undefined);
  if (step === undefined || revision === undefined) return undefined;
  return {
    streamId,
    state: replay.state,
    revision,
    last: { position: step.position, ...(step.occurredAt !== undefined ? { occurredAt: step.occurredAt } : {}) },
    context: snapshot.context as Record<string, unknown>,
    ...broken,
  };
};

/** `broken` of the first refusal (told), its findings counted (the same-stream links the replay gives are told to every reader). */
const brokenOf = (first: Finding, findings: readonly Finding[]): Broken => ({
  position: first.position,
  reason: first.reason,
  ...(first.rule !== undefined ? { rule: first.rule } : {}),
  ...(first.ruleSince !== undefined ? { ruleSince: first.ruleSince } : {}),
  findingsTotal: findings.length,
  findingsByNewerRules: findingsByNewerRules(findings),
  findingsFollowingNewerRules: findingsFollowingNewerRules(findings),
});

/** The first stored event of the entity's stream its replay with every guard refuses, in the caller's words. */
const firstRefusal = async (context: ServiceContext, principal: Principal | undefined, replay: EntityReplay): Promise<Finding | undefined> => {
  if (replay.verdict.ok) return undefined;
  // The first finding alone, told as the whole replay would tell it (each finding is told on its own): telling every
  // step of an entity at the bound, refused ones each with its reason, was a block of its own (review 242's follow-up).
  const told = await entityReplayTold(context, principal, { ...replay, steps: [], verdict: { ok: false, findings: replay.verdict.findings.slice(0, 1) } });
  return told.verdict.ok ? undefined : told.verdict.findings[0];
};
