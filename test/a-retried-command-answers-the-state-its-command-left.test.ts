/**
 * Review 78 (low): a command sent again under its command id is answered with its first outcome (docs/service.md,
 * "Idempotency"), and the outcome's `state` is the entity's state after the command (CommandOutcome). A retry
 * answered the state now: a node registered, then enrolled and revoked, answered its registration's retry with
 * `revoked`. The state is the entity's stream folded through its machine up to the command's last event.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { cmd, footprint, operator, profile, T0 } from './support/fleet.ts';

const X = '11111111-2222-4333-8444-555555555555';
const register = () => command('registerNode', { nodeId: 'n1', profile }, { actor: operator, commandId: X });

const stores = embeddedAndStandInStores();

describe.each(stores)('a retried command on %s', (_name, open) => {
  it('answers the state its command left, not the state now, and writes nothing', async () => {
    // Given n1 registered under X (initialized), then enrolled and revoked
    const store = await open();
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    const first = await engine.execute(register());
    await engine.execute(cmd.enrolNode('n1'));
    await engine.execute(command('revokeNode', { nodeId: 'n1', reason: 'keyCompromise' }, { actor: operator }));
    const before = await footprint(store);

    // When the registration is sent again under X, to this engine and to a fresh one (nothing cached)
    const again = await engine.execute(register());
    const fresh = await createEngine({ store, clock: new FakeClock(T0), cacheMaxBytes: 0 }).execute(register());

    // Then both answer the first outcome, its state included, and nothing is written
    expect(first.state).toBe('initialized');
    expect(again).toEqual({ ...first, deduplicated: true });
    expect(fresh).toEqual({ ...first, deduplicated: true });
    expect(await footprint(store)).toEqual(before);
    await store.close();
  });

  it('answers the state after the command when the command is the last on its stream', async () => {
    const store = await open();
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('n1'));
    const enrol = { ...cmd.enrolNode('n1'), metadata: { actor: operator, commandId: X } };
    const first = await engine.execute(enrol);
    expect(await engine.execute(enrol)).toEqual({ ...first, deduplicated: true });
    expect(first.state).toBe('enrolled');
    await store.close();
  });
});
