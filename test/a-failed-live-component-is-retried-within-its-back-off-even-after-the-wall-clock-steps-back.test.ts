/**
 * Review 163 (F1): the live runtime timed a failed component's back-off and its run of failures on the wall clock.
 * Stepped back an hour (NTP, a VM restored), the clock held every failed component back for that hour, the revocation
 * cascade included (OCSP answered `good` meanwhile), and /readyz saw a run of failures of minus an hour, so it stayed
 * ready. The back-offs and the failing durations are now timed on the monotonic clock; the key shredder's owed keys,
 * whose last failure is kept on the wall clock to outlive a restart, wait no longer than their back-off either.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { keyShredder } from '../adapters/protocols/procedures/index.ts';
import { openCredence, startLive } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { refusingDestroy } from './support/refusing-destroy.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { useTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const HOUR = 3_600_000;
const folder = temporaryFolders('credence-clock-back-');

/** Steps the wall clock (`Date.now`) back an hour from now on; it keeps running. */
const stepWallClockBackAnHour = (): void => {
  const wall = Date.now.bind(Date);
  vi.spyOn(Date, 'now').mockImplementation(() => wall() - HOUR);
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a live component that failed, the wall clock then stepped back an hour', () => {
  it('is retried within its back-off: the revocation cascade catches up once the failure is gone', async () => {
    const credence = openCredence({ location: { dir: folder() }, clock: new FakeClock(T0) });
    const { runner } = credence;
    const { handle, catchUp } = runner;
    let broken = false;
    runner.handle = (...args) => (broken ? Promise.reject(new Error('read models broke')) : handle.apply(runner, args));
    runner.catchUp = (...args) => (broken ? Promise.reject(new Error('read models broke')) : catchUp.apply(runner, args));
    const live = startLive(credence, { tickMs: 20 });
    try {
      await live.start();
      for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.issueCredential('cred-1', 'meter-1'), cmd.provisionCredential('cred-1')]) {
        await credence.engine.execute(c);
      }
      expect(await live.caughtUp((await credence.store.headPosition())!, 10_000)).toBe(true);

      // Given the cascade failing, its error said
      broken = true;
      await credence.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
      await expect.poll(async () => (await live.status()).find((c) => c.name === 'cascade')?.error, { timeout: 10_000, interval: 20 }).toBe('read models broke');

      // When the wall clock steps back an hour, and the failure goes
      stepWallClockBackAnHour();
      broken = false;

      // Then the cascade is retried within its back-off (at most a few seconds after so few failures), not an hour
      // later: the node's credential is revoked
      expect(await live.caughtUp((await credence.store.headPosition())!, 10_000, ['cascade'])).toBe(true);
      await expect.poll(async () => (await credence.engine.view('credential', 'cred-1')).state, { timeout: 10_000, interval: 20 }).toBe('revoked');
      expect(live.failing?.().filter((c) => c.forMs !== undefined)).toEqual([]);
    } finally {
      await live.stop();
      await credence.close();
    }
  });
});

describe('the readiness check, the wall clock stepped back an hour while a component fails', () => {
  const svc = useTestService({ config: { limits: { readyMaxFailingMs: 300 } } });

  it('reports the component failing too long once it has failed for the bound, timed on the monotonic clock', async () => {
    const { runner } = svc.service.context.credence;
    const { handle, catchUp } = runner;
    runner.handle = (name, ...rest) => (name === 'cascade' ? Promise.reject(new Error('cascade broke')) : handle.call(runner, name, ...rest));
    runner.catchUp = (name) => (name === 'cascade' ? Promise.reject(new Error('cascade broke')) : catchUp.call(runner, name));
    try {
      const failing = (): number | undefined => svc.service.context.live.failing?.().find((c) => c.name === 'cascade')?.forMs;
      await svc.service.context.credence.engine.execute(cmd.createSubscription());
      await expect.poll(failing, { timeout: 10_000, interval: 20 }).toBeDefined();

      stepWallClockBackAnHour();

      await expect
        .poll(async () => (await fetch(`${svc.url}/readyz`)).json(), { timeout: 10_000, interval: 50 })
        .toMatchObject({ check: 'component', component: 'cascade' });
      expect(failing()).toBeGreaterThanOrEqual(300);
      expect(failing()).toBeLessThan(HOUR);
    } finally {
      runner.handle = handle;
      runner.catchUp = catchUp;
    }
  });
});

describe('an owed key, the wall clock stepped back an hour', () => {
  const shredderWorld = () => {
    const wall = { ms: Date.parse('2026-12-01T12:00:00Z') };
    const monotonic = { ms: 1_000 };
    const se = refusingDestroy(ownerView(memorySecureEnvironment('clock-back', () => new Date(wall.ms)), 'maf:infrastructure'));
    const registry = SqliteKeyRegistry.open({ memory: true });
    const shredder = keyShredder(se.se, registry, () => new Date(wall.ms), () => monotonic.ms);
    return { wall, monotonic, registry, shredder, se };
  };

  it('is tried again once its back-off has passed on the monotonic clock, not an hour later', async () => {
    const w = shredderWorld();
    try {
      // Given a key refused once (a back-off of 1 s), seen owed by a tick
      w.registry.register('credential-c1', 'key_aaaaaaaaaaaaaaaaaaaaaaaa', 'psk');
      w.registry.destroyFailed('credential-c1', 'key_aaaaaaaaaaaaaaaaaaaaaaaa', new Date(w.wall.ms));
      await expect(w.shredder.retryOwed()).resolves.toBe(0);
      // When the wall clock steps back an hour and a second passes
      w.wall.ms -= HOUR;
      w.se.refuse(false);
      w.wall.ms += 1_000;
      w.monotonic.ms += 1_000;
      // Then it is tried, and destroyed
      await expect(w.shredder.retryOwed()).resolves.toBe(1);
      expect(w.registry.owed()).toEqual([]);
    } finally {
      w.registry.close();
    }
  });

  it('owed with its last failure in the future (kept before a restart, the clock stepped back since) waits its back-off from now', async () => {
    const w = shredderWorld();
    try {
      w.registry.register('credential-c1', 'key_aaaaaaaaaaaaaaaaaaaaaaaa', 'psk');
      w.registry.destroyFailed('credential-c1', 'key_aaaaaaaaaaaaaaaaaaaaaaaa', new Date(w.wall.ms + HOUR));
      // Not at once (nothing is refused, so a try would destroy it): its back-off is kept, counted from now
      await expect(w.shredder.retryOwed()).resolves.toBe(0);
      w.wall.ms += 999;
      w.monotonic.ms += 999;
      await expect(w.shredder.retryOwed()).resolves.toBe(0);
      // Then once its back-off (1 s) has passed
      w.wall.ms += 1;
      w.monotonic.ms += 1;
      await expect(w.shredder.retryOwed()).resolves.toBe(1);
    } finally {
      w.registry.close();
    }
  });
});
