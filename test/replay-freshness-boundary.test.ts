/**
 * Issue 11 item 10: freshness (`assertFresh`) accepts a sender clock exactly `maxClockSkewSeconds` away, so the
 * replay cache must still remember a nonce at exactly twice the skew after it was recorded. Before the fix the
 * cache evicted at exactly its window while freshness still accepted: a hello recorded at the earliest fresh instant
 * was accepted again at the latest one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryReplayCache, SqliteReplayCache } from '../adapters/driven/replay-cache/replay-cache.ts';
import type { ReplayCache } from '../domain/ports/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { associate, handshakeWorld } from './handshake.fixtures.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const SKEW_MS = 300_000; // the default maxClockSkewSeconds
const caches: [string, () => ReplayCache][] = [
  ['memory', () => new MemoryReplayCache({ windowSeconds: 600, maxEntries: 10 })],
  [
    'sqlite',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'credence-boundary-'));
      dirs.push(dir);
      return new SqliteReplayCache({ path: join(dir, 'replay.sqlite'), windowSeconds: 600, maxEntries: 10 });
    },
  ],
];

const reasonOf = async (run: () => Promise<unknown>): Promise<string> => {
  try {
    await run();
    return 'accepted';
  } catch (error) {
    if (isCredenceError(error, 'protocol') && error.problem.code === 'protocol') return error.problem.reason;
    throw error;
  }
};

describe.each(caches)('freshness and replay-cache eviction agree at the boundary (%s cache, issue 11 item 10)', (_name, make) => {
  it('a hello accepted at the earliest fresh instant is refused as replayed at the latest fresh instant, and stale just after', async () => {
    const sentAt = Date.parse('2030-01-01T00:00:00.000Z'); // the Registree's clock (handshakeWorld's start)
    let registrarNow = sentAt - SKEW_MS; // the Registrar's clock, exactly the allowed skew behind
    // A window of exactly twice the skew: the smallest the Registrar accepts.
    const world = await handshakeWorld({ kind: 'psk256', registrar: { replayCache: make(), now: () => new Date(registrarNow) } });
    const { messages } = await associate(world);
    expect(Date.parse(messages.hello.sentAt)).toBe(sentAt);

    registrarNow = sentAt + SKEW_MS; // still fresh: the nonce must still be remembered (recorded 2 x skew ago)
    expect(await reasonOf(() => world.registrar.acceptHello(messages.hello))).toBe('replayed_nonce');
    registrarNow = sentAt + SKEW_MS + 1; // now refused for its age before the cache is even asked
    expect(await reasonOf(() => world.registrar.acceptHello(messages.hello))).toBe('stale');
  });
});
