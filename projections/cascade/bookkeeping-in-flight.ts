import type { CommandSink } from '../../domain/ports/index.ts';
import { streamIdOf } from '../../domain/streams.ts';

/**
 * The cascade's bookkeeping left in flight (process-manager.ts), by the stream each command targets. Whatever reads or
 * writes one of those streams afterwards waits for the work queued on it before, so each stream sees the cascade's
 * commands in the order of their events, as it did one reaction at a time.
 */
export class BookkeepingInFlight {
  /** The last work queued per stream, never rejecting; gone once it settled and nothing came after it. */
  readonly #tails = new Map<string, Promise<void>>();

  /** Settles once the work queued on `streamId` so far has (at once when none). */
  settledOn(streamId: string): Promise<void> | undefined {
    return this.#tails.get(streamId);
  }

  /** `work` on `streamId`, queued after what is there. */
  queue(streamId: string, work: Promise<void>): void {
    const tail = work.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(streamId, tail);
    void tail.then(() => {
      if (this.#tails.get(streamId) === tail) this.#tails.delete(streamId);
    });
  }

  /** Settles once every work queued so far has. */
  async all(): Promise<void> {
    if (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }

  /**
   * The engine as a reaction sees it: each read or command on a stream waits for the work queued on it before `after`
   * (the stream's tail when the reaction was queued, or every stream's tail when `after` is absent: a lookup).
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
