import type { CommandSink } from '../../domain/ports/index.ts';
import { streamIdOf } from '../../domain/streams.ts';

/**
 * The cascade's bookkeeping left in flight (process-manager.ts), by the stream each command targets. Whatever reads or
 * writes one of those streams afterwards waits for the work queued on it before, so each stream sees the cascade's
 * commands in the order of their events, as it did one reaction at a time; and fails if that work failed, so nothing
 * is committed past a failure (review 265) before the runner has undone the transaction and begun it again.
 */
export class BookkeepingInFlight {
  /** The last work queued per stream: gone once it succeeded and nothing came after it, kept (rejected) if it failed. */
  readonly #tails = new Map<string, Promise<void>>();
  /** The position of the last event reacted to: one at or before it begins a new pass (newPass). */
  #last: bigint | undefined;

  /**
   * Called with each event reacted to. An event at or before the last one is a transaction begun again (after a
   * failure, a rebuild), by which time the runner has let every work settle: the failures of the pass before are
   * forgotten, so that it can make progress.
   */
  reacting(position: bigint): void {
    if (this.#last !== undefined && position <= this.#last) this.#tails.clear();
    this.#last = position;
  }

  /** Settles once the work queued on `streamId` so far has, rejecting if it failed; undefined when none is. */
  settledOn(streamId: string): Promise<void> | undefined {
    return this.#tails.get(streamId);
  }

  /** `work` on `streamId`, queued after what is there (which `work` awaits itself: `sink(engine, after)`). */
  queue(streamId: string, work: Promise<void>): void {
    this.#tails.set(streamId, work);
    work.then(
      () => {
        if (this.#tails.get(streamId) === work) this.#tails.delete(streamId);
      },
      () => undefined,
    );
  }

  /** Settles once every work queued so far has, rejecting if any failed. */
  async all(): Promise<void> {
    if (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }

  /**
   * The engine as a reaction sees it: each read or command on a stream waits for the work queued on it before `after`
   * (the stream's tail when the reaction was queued, or every stream's tail when `after` is absent: a lookup), and
   * fails if that work failed.
   */
  sink(engine: CommandSink, after?: Promise<void>): CommandSink {
    const before = (kind: Parameters<CommandSink['view']>[0], id: string): Promise<void> | undefined => after ?? this.settledOn(streamIdOf(kind, id));
    const recorded = engine.recorded;
    return {
      clock: engine.clock,
      execute: (input, options) => engine.execute(input, options),
      executeAsSystem: async (input) => {
        if (after !== undefined) await after;
        return engine.executeAsSystem(input);
      },
      view: async (kind, id) => {
        await before(kind, id);
        return engine.view(kind, id);
      },
      ...(recorded !== undefined
        ? {
            recorded: async (kind, id, commandId, by) => {
              await before(kind, id);
              return recorded.call(engine, kind, id, commandId, by);
            },
          }
        : {}),
    };
  }
}
