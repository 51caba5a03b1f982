import { ownerView } from '../domain/ports/owner-view.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { MemoryReplayCache, SqliteReplayCache } from '../adapters/driven/replay-cache/replay-cache.ts';
import { type ReplayCache } from '../domain/ports/index.ts';
import { Registrar } from '../adapters/protocols/association/registrar.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { associate, handshakeWorld, REGISTRAR_ID, REGISTRAR_OWNER } from './handshake.fixtures.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const tempPath = () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-replay-'));
  dirs.push(dir);
  return join(dir, 'replay.sqlite');
};

const at = (seconds: number) => new Date(Date.UTC(2030, 0, 1) + seconds * 1000);

const caches: [string, (window: number, max: number) => ReplayCache][] = [
  ['memory', (windowSeconds, maxEntries) => new MemoryReplayCache({ windowSeconds, maxEntries })],
  ['sqlite', (windowSeconds, maxEntries) => new SqliteReplayCache({ path: tempPath(), windowSeconds, maxEntries })],
];

describe.each(caches)('replay cache (%s, SER-012)', (_name, make) => {
  it('answers fresh once, then replayed for the same key within the window', async () => {
    const cache = make(600, 10);
    expect(await cache.remember('nonce:a', at(0))).toBe('fresh');
    expect(await cache.remember('nonce:a', at(599))).toBe('replayed');
    expect(await cache.remember('nonce:b', at(599))).toBe('fresh');
  });

  it('remembers a key through the last instant of its window, inclusive like freshness, and forgets it after (issue 11 item 10)', async () => {
    const cache = make(600, 10);
    await cache.remember('nonce:a', at(0));
    expect(await cache.remember('nonce:a', at(600))).toBe('replayed');
    expect(await cache.seen('nonce:a', at(600))).toBe(true);
    expect(await cache.seen('nonce:a', at(600.001))).toBe(false);
    expect(await cache.remember('nonce:a', at(600.001))).toBe('fresh');
  });

  it('seen looks a key up without recording it', async () => {
    const cache = make(600, 1);
    expect(await cache.seen('nonce:a', at(0))).toBe(false);
    expect(await cache.remember('nonce:a', at(1))).toBe('fresh');
    expect(await cache.seen('nonce:a', at(2))).toBe(true);
  });

  it('gives each namespace its own keys and its own budget: filling one never fills another (issue 11 item 4)', async () => {
    const cache = make(600, 2);
    const provisioning = cache.namespace('provisioning:MEF-1');
    const association = cache.namespace('association:CSE-IN-1');
    expect(await provisioning.remember('a', at(0))).toBe('fresh');
    expect(await provisioning.remember('b', at(0))).toBe('fresh');
    expect(await provisioning.remember('c', at(0))).toBe('full');
    expect(await association.seen('a', at(0))).toBe(false);
    expect(await association.remember('a', at(0))).toBe('fresh');
    expect(await association.namespace('inner').remember('a', at(0))).toBe('fresh');
  });

  it('is bounded: when full of live entries it answers full rather than forgetting one', async () => {
    const cache = make(600, 3);
    for (const key of ['a', 'b', 'c']) expect(await cache.remember(key, at(0))).toBe('fresh');
    expect(await cache.remember('d', at(10))).toBe('full');
    expect(await cache.remember('a', at(10))).toBe('replayed');
    expect(await cache.remember('d', at(600))).toBe('full'); // a, b, c are still live at the last instant of their window
    expect(await cache.remember('d', at(601))).toBe('fresh'); // a, b, c expired and were evicted
  });
});

describe('persisted replay cache', () => {
  it('keeps refusing a replayed nonce after the cache is reopened', async () => {
    const path = tempPath();
    const first = new SqliteReplayCache({ path, windowSeconds: 600, maxEntries: 10 });
    await first.remember('nonce:a', at(0));
    first.close();
    const second = new SqliteReplayCache({ path, windowSeconds: 600, maxEntries: 10 });
    expect(await second.remember('nonce:a', at(1))).toBe('replayed');
    second.close();
  });

  it('a Registrar restarted on the persisted cache refuses a hello replayed from before the restart', async () => {
    const path = tempPath();
    const world = await handshakeWorld({ kind: 'psk256', registrar: { replayCache: new SqliteReplayCache({ path, windowSeconds: 900, maxEntries: 100 }) } });
    const { messages } = await associate(world);
    const restarted = new Registrar({
      id: REGISTRAR_ID,
      se: ownerView(world.registrarSe, REGISTRAR_OWNER),
      now: world.clock.now,
      random: seededRandom('restarted'),
      replayCache: new SqliteReplayCache({ path, windowSeconds: 900, maxEntries: 100 }),
      resolveCredential: async () => ({ descriptor: world.descriptor, handle: world.registrarHandle as never }),
    });
    await expect(restarted.acceptHello(messages.hello)).rejects.toSatisfy(
      (e) => isCredenceError(e, 'protocol') && e.problem.code === 'protocol' && e.problem.reason === 'replayed_nonce',
    );
  });

  it('a Registrar refuses a cache whose window is shorter than twice the accepted clock skew', () => {
    expect(
      () =>
        new Registrar({
          id: REGISTRAR_ID,
          se: undefined as never,
          now: () => new Date(),
          random: seededRandom('x'),
          replayCache: new MemoryReplayCache({ windowSeconds: 599, maxEntries: 1 }),
          resolveCredential: async () => undefined,
        }),
    ).toThrow('replayCache.windowSeconds must be at least twice maxClockSkewSeconds');
  });

  it('a full cache makes the Registrar refuse to complete new handshakes instead of dropping replay protection', async () => {
    const world = await handshakeWorld({ kind: 'ed25519', registrar: { replayCache: new MemoryReplayCache({ windowSeconds: 600, maxEntries: 3 }) } });
    await associate(world); // a run slot of the Registree, a nonce and a transcript, written once its proof verified
    const handshake = await world.registree.start({ lifetimeSeconds: 60 });
    // Only authenticated runs write to the cache (issue 11 item 4), so a full cache refuses at the finish.
    const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
    await expect(world.registrar.acceptFinish(finish)).rejects.toSatisfy(
      (e) => isCredenceError(e, 'protocol') && e.problem.code === 'protocol' && e.problem.reason === 'replay_cache_full',
    );
  });
});
