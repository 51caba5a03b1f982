/** Replay caches behind the protocols' port (SER-012): in memory, or in SQLite so that they survive a restart. */
export { MemoryReplayCache, SqliteReplayCache } from './replay-cache.ts';
export type { ReplayCacheOptions } from './replay-cache.ts';
export { DEFAULT_REPLAY_CACHE, openReplayCache } from './open-replay-cache.ts';
