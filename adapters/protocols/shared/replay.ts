import type { ReplayCache } from '../../../domain/ports/replay-cache.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';

/**
 * SER-012: records `key` (a nonce or a transcript hash) and refuses the step when it was seen within the window. A
 * full cache refuses too: losing replay protection under load is worse than refusing work.
 */
export const rememberOnce = async (
  step: string,
  replayCache: ReplayCache,
  key: string,
  now: Date,
  replayed: 'replayed_nonce' | 'replayed_transcript',
): Promise<void> => {
  const verdict = await replayCache.remember(key, now);
  if (verdict !== 'fresh') throw protocolFailure(step, verdict === 'full' ? 'replay_cache_full' : replayed);
};
