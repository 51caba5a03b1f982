import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { mapRaisedError } from '../adapters/http/map-raised-error.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { cmd, T0 } from './support/fleet.ts';
import { newEvent } from './store-conformance/helpers.ts';

/**
 * Review 220 finding 2: a command still deciding when the embedded store closed got an untyped Error (a 500 over HTTP,
 * which a caller cannot tell from a bug). It is `store_unavailable`: nothing was stored, a retry under the same
 * command id is safe, 503 with Retry-After.
 */
describe('a call on a closed embedded store', () => {
  it('refuses a command still deciding as store_unavailable, mapped to a 503 with Retry-After', async () => {
    const store = openSqliteStore({ memory: true });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    const engine = createEngine({
      store,
      clock: new FakeClock(T0),
      verifyRequest: async () => {
        if (holding) await held;
      },
    });
    for (const c of [cmd.createSubscription(), cmd.registerNode('gw'), cmd.enrolNode('gw')]) await engine.execute(c);
    holding = true;
    const deciding = engine.execute(cmd.issueCredential('cred-2', 'gw'));
    await store.close();
    release();
    const error = await deciding.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCredenceError(error, 'store_unavailable'), String(error)).toBe(true);
    expect((error as { problem: { reason: string } }).problem.reason).toBe('closed');
    expect(String(error)).toContain('the event store is closed: SqliteEventStore was closed (the service is stopping); nothing was stored, retry the command with the same command id');
    const mapped = mapRaisedError(error);
    expect(mapped.status).toBe(503);
    expect(mapped.code).toBe('store_unavailable');
    expect(mapped.headers?.['retry-after']).toBe('5');
    // A device's step is told the store is closed, not that another process holds its write lock.
    expect(mapRaisedError(error, 'device-step').detail).toMatch(/^the event store is closed: the service is stopping; nothing was stored/);
  });

  it('refuses appends and reads alike, typed', async () => {
    const store = openSqliteStore({ memory: true });
    await store.close();
    const append = store.appendToStream('s', [newEvent('E')], { expectedRevision: ExpectedRevision.noStream });
    await expect(append).rejects.toSatisfy((e) => isCredenceError(e, 'store_unavailable'));
    await expect(store.readStream('s')).rejects.toSatisfy((e) => isCredenceError(e, 'store_unavailable'));
    await expect(store.headPosition()).rejects.toThrow('the event store is closed');
  });
});
