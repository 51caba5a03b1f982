import type { FastifyBaseLogger } from 'fastify';
import { describeRefusal } from '../../projections/transparency/index.ts';
import type { Credence, LiveRuntime } from '../runtime/index.ts';
import { withCatchUpProgress } from './catch-up-progress.ts';

/**
 * Starts the live runtime and awaits its first catch-up, saying how far each component (the transparency log's too) is,
 * and, when that catch-up lifted a refusal of the transparency log an earlier process kept (every leaf found in the
 * store again: the right events.db restored), that the log goes on, and what had stopped it.
 */
export const firstCatchUp = async (live: LiveRuntime, credence: Credence, log: FastifyBaseLogger): Promise<void> => {
  await caughtUp(live, credence, log);
  const lifted = credence.transparency?.clearedRefusal;
  if (lifted !== undefined) {
    log.warn(
      { transparency: 'refusal lifted', position: lifted.position.toString(10) },
      `the transparency log goes on: the event store holds every logged event again, so the refusal kept in transparency.db is lifted (${describeRefusal(lifted)})`,
    );
  }
};

const caughtUp = (live: LiveRuntime, credence: Credence, log: FastifyBaseLogger): Promise<void> =>
  withCatchUpProgress(live.start(), {
    log,
    positions: () => [
      ...credence.runner.names.map((name) => ({ name, position: credence.runner.checkpoint(name) })),
      ...(credence.transparency !== undefined ? [{ name: 'transparency', position: credence.transparency.position }] : []),
      // The endings gone over again from keys.db's mark before anything follows the store (review 202: a first start
      // after the upgrade goes over the whole log, silently until then).
      ...(credence.shredder?.shreddingAgain !== undefined ? [{ name: 'key-shredder (again, from keys.db mark)', position: credence.shredder.shreddingAgain.position }] : []),
      ...(credence.store.keyClaimsFilling?.() ?? []), // EventStoreDB's one pass claiming keys of earlier versions (review 204)
    ],
    head: () => credence.store.headPosition(),
    // Its own event types after its checkpoint, the first found: read by their index, nothing counted.
    nothingToRead: async (name) => credence.runner.names.includes(name) && (await credence.runner.lag(name, 1)).eventsBehind === 0,
  });
