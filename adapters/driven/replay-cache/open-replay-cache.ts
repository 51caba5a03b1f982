import { join } from 'node:path';

import { MemoryReplayCache, SqliteReplayCache } from './replay-cache.ts';

/** One hour of nonces and transcripts, up to 100,000 per protocol end: far beyond twice the default clock skew. */
export const DEFAULT_REPLAY_CACHE = { windowSeconds: 3600, maxEntries: 100_000 } as const;

/**
 * The replay cache of an instance (SER-012 "survives restarts"): `replay-cache.db` in its data folder, in memory
 * only for an in-memory instance (whose every other state is gone on restart too). Close it with the instance.
 */
export const openReplayCache = (location: { readonly dir: string } | { readonly memory: true }): MemoryReplayCache | SqliteReplayCache =>
  'dir' in location
    ? new SqliteReplayCache({ path: join(location.dir, 'replay-cache.db'), ...DEFAULT_REPLAY_CACHE })
    : new MemoryReplayCache(DEFAULT_REPLAY_CACHE);
