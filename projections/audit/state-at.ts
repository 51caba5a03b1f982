import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { parseStreamId, type EntityKind } from '../../domain/streams.ts';
import type { EntityReplay, ReplayStep } from '../replay/index.ts';
import { replayEntityToSnapshot } from '../replay/entity.ts';

export interface StateAt {
  readonly streamId: string;
  readonly kind: EntityKind;
  /** The instant asked about (ISO 8601). */
  readonly at: string;
  /** `absent` before the entity's first event. */
  readonly state: string;
  /** The machine's context at that instant (times in epoch ms); absent when the history up to then is broken. */
  readonly context?: Readonly<Record<string, unknown>>;
  /** The last event at or before the instant that the machine accepted: the one the state is after. */
  readonly asOf?: EventRef;
  /**
   * The last stored event at or before the instant, when the machine refused it (review 237: it was named `asOf`, and
   * an entity absent by then read as "after" a forged event). A finding of `verdict`.
   */
  readonly lastStored?: EventRef;
  readonly events: number;
  readonly verdict: EntityReplay['verdict'];
  /**
   * Facts with a broken history that events accepted by then read (the steps' `brokenFacts`, as `credence history`
   * flags them): the verdict is this entity's own and stays ok; the fact's stream is the finding.
   */
  readonly brokenFacts?: readonly string[];
}

export interface EventRef {
  readonly position: bigint;
  readonly revision: bigint;
  readonly type: string;
  readonly occurredAt?: string;
}

const refOf = (step: ReplayStep): EventRef => ({
  position: step.position,
  revision: step.revision,
  type: step.type,
  ...(step.occurredAt !== undefined ? { occurredAt: step.occurredAt } : {}),
});

const occurredAtOf = (record: RecordedEvent): number => Date.parse(String(record.metadata['occurredAt']));

/**
 * The entity as it stood at instant `at`: its events with occurredAt <= at replayed through its machine with
 * every guard (cross-entity ones as they stood at each event's position). An event whose time cannot be read
 * is kept, so the replay reports it instead of hiding it.
 */
export const stateAt = async (store: EventStore, streamId: string, at: Date): Promise<StateAt> => {
  if (Number.isNaN(at.getTime())) throw new RangeError('at must be a valid date');
  const ref = parseStreamId(streamId);
  if (ref === undefined) throw new RangeError(`not an entity stream: ${streamId} (expected <kind>-<id>)`);
  const limit = at.getTime();
  const within = (r: RecordedEvent): boolean => {
    const t = occurredAtOf(r);
    return Number.isNaN(t) || t <= limit;
  };
  // The context is the replay's own, of the events it accepted: no second read and rebuild of the stream (found in
  // review: one sliced by the count of steps stopped short of the last events when fact claims sat among them).
  const { replay, snapshot } = await replayEntityToSnapshot(store, streamId, within);
  const applied = replay.steps.findLast((s) => s.accepted);
  const last = replay.steps.at(-1);
  const context = replay.verdict.ok ? (snapshot.context as Record<string, unknown>) : undefined;
  const brokenFacts = [...new Set(replay.steps.flatMap((s) => (s.accepted ? (s.brokenFacts ?? []) : [])))];
  return {
    streamId,
    kind: ref.kind,
    at: at.toISOString(),
    state: replay.state,
    ...(context !== undefined ? { context } : {}),
    ...(applied !== undefined ? { asOf: refOf(applied) } : {}),
    ...(last !== undefined && last !== applied ? { lastStored: refOf(last) } : {}),
    events: replay.steps.length,
    verdict: replay.verdict,
    ...(brokenFacts.length > 0 ? { brokenFacts } : {}),
  };
};
