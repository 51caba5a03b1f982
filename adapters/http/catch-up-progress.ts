import type { FastifyBaseLogger } from 'fastify';

/** How often a long first catch-up is said to still run: well under an orchestrator's patience, few lines an hour. */
export const CATCH_UP_LOG_EVERY_MS = 10_000;

export interface CatchUpProgress {
  readonly log: FastifyBaseLogger;
  /** Where each live component is now (its checkpoint moves with each batch it commits). */
  readonly positions: () => readonly { readonly name: string; readonly position: bigint | undefined }[];
  readonly head: () => Promise<bigint | undefined>;
  /**
   * Whether a component that has handled nothing yet has nothing of its own to read (none of the event types it
   * handles is stored): said so, not "at position none", which reads as not started (review 52).
   */
  readonly nothingToRead?: (name: string) => Promise<boolean>;
  readonly everyMs?: number;
}

/**
 * Awaits the live runtime's first catch-up (a rebuild after an upgrade reads the whole log: tens of seconds on a
 * large fleet) and says at info, every `everyMs` while it runs, how far each component is: an operator watching
 * a service that does not serve yet sees why, and that it moves (review 51). A catch-up shorter than that says nothing.
 */
export const withCatchUpProgress = async <T>(catchUp: Promise<T>, o: CatchUpProgress): Promise<T> => {
  const started = performance.now();
  const seconds = (): number => Math.round((performance.now() - started) / 1000);
  let said = false;
  const say = async (): Promise<void> => {
    const head = await o.head().catch(() => undefined);
    const idle = async (name: string): Promise<boolean> => (await o.nothingToRead?.(name).catch(() => false)) ?? false;
    const components = await Promise.all(
      o.positions().map(async (c) =>
        c.position !== undefined ? { name: c.name, position: c.position.toString(10) } : { name: c.name, position: 'none', ...((await idle(c.name)) ? { nothingToRead: true } : {}) },
      ),
    );
    const behind = components.filter((c) => head === undefined || c.position === 'none' || BigInt(c.position) < head);
    const where = (c: (typeof components)[number]): string =>
      'nothingToRead' in c ? `${c.name} has nothing to read yet` : `${c.name} at position ${c.position} of ${head?.toString(10) ?? '?'}`;
    said = true;
    o.log.info(
      { components, head: head?.toString(10) },
      `catching up with the event store for ${seconds()} s: the API answers once it is done; ` + (behind.length === 0 ? 'finishing' : behind.map(where).join(', ')),
    );
  };
  const timer = setInterval(() => void say(), o.everyMs ?? CATCH_UP_LOG_EVERY_MS);
  timer.unref();
  try {
    const result = await catchUp;
    if (said) o.log.info(`caught up with the event store in ${seconds()} s`);
    return result;
  } finally {
    clearInterval(timer);
  }
};
