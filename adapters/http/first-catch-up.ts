import type { FastifyBaseLogger } from 'fastify';
import type { Credence, LiveRuntime } from '../runtime/index.ts';
import { withCatchUpProgress } from './catch-up-progress.ts';

/** Starts the live runtime and awaits its first catch-up, saying how far each component (the transparency log's too) is. */
export const firstCatchUp = (live: LiveRuntime, credence: Credence, log: FastifyBaseLogger): Promise<void> =>
  withCatchUpProgress(live.start(), {
    log,
    positions: () => [
      ...credence.runner.names.map((name) => ({ name, position: credence.runner.checkpoint(name) })),
      ...(credence.transparency !== undefined ? [{ name: 'transparency', position: credence.transparency.position }] : []),
    ],
    head: () => credence.store.headPosition(),
    // Its own event types after its checkpoint, the first found: read by their index, nothing counted.
    nothingToRead: async (name) => credence.runner.names.includes(name) && (await credence.runner.lag(name, 1)).eventsBehind === 0,
  });
