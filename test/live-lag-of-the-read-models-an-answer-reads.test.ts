import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive, type Credence, type LiveRuntime } from '../adapters/runtime/index.ts';
import { cmd, T0 } from './support/fleet.ts';

/*
 * Found in review: an answer from read models (a compliance query, an entity's timeline, the counts, the dependents)
 * said how far behind "the read models" were by the largest lag of every live component: one component failing (the
 * transparency log backing off, say) made every answer report itself behind, a false alarm. The lag is now that of
 * the components the answer reads.
 */
let credence: Credence | undefined;
let live: LiveRuntime | undefined;
afterEach(async () => {
  await live?.stop();
  await credence?.close();
  [live, credence] = [undefined, undefined];
});

describe('the lag an answer reports is that of the read models it reads', () => {
  it('is 0 for the audit trail and the compliance tables while another component is stuck', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    // The expiry scheduler's read model fails at every pass from now on.
    const stuck = (): never => {
      throw new Error('disk full');
    };
    Object.assign(c.scheduler, { apply: stuck, beginBatch: stuck });
    live = startLive(c, { tickMs: 50 });
    await live.start();
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential()]) await c.engine.execute(x);
    const head = (await c.store.headPosition())!;
    expect(await live.caughtUp(head, 5_000, ['audit', 'compliance'])).toBe(true);
    expect(live.lag(['audit', 'compliance']).eventsBehind).toBe(0);
    expect(await live.caughtUp(head, 300)).toBe(false);
    expect(live.lag().eventsBehind).toBeGreaterThan(0);
    expect((await live.status()).find((s) => s.name === 'expiry')?.error).toContain('disk full');
    // A name that is no component never reads as caught up.
    expect(() => live!.lag(['audti'])).toThrow(/audti is no live component/);
  });
});
