/**
 * Review 78 (low): a command id already used is refused as reused (`metadata.commandId`, rule `idempotency`) for any
 * other command (docs/service.md: `400 body.commandId idempotency`). The engine looked the id up on the target's
 * stream only; the store's index of every stream was consulted inside the append, so only a command the target's
 * machine would accept got that refusal. Another command under the id was refused for its target's state instead
 * ("does not exist", a state, a rule), and another actor reusing an id learnt from which refusal it got which stream
 * the id had gone to. Now every refusal of a command is answered as a reuse when the store holds its id anywhere,
 * in the same words whatever the stream.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { at, cmd, footprint, issueCredentialData, operator, profile, rejection, T0 } from './support/fleet.ts';

const X = '11111111-2222-4333-8444-555555555555';
const bob = { id: 'operator:bob', role: 'operator' as const };

const stores = embeddedAndStandInStores();

/** Counts the calls of each store method, to show a refusal's look-up costs an accepted command nothing. */
const counted = (inner: EventStore) => {
  const calls = new Map<string, number>();
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls };
};

describe.each(stores)('a command id reused on another stream, on %s', (_name, open) => {
  it('is refused as reused, in the words of a reuse on an entity that would accept it, whatever the target', async () => {
    // Given X used by alice to register n1, and a credential c1 issued
    const inner = await open();
    const engine = createEngine({ store: inner, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    await engine.execute(command('registerNode', { nodeId: 'n1', profile }, { actor: operator, commandId: X }));
    await engine.execute(cmd.registerNode('n2'));
    await engine.execute(cmd.issueCredential('c1', 'n2'));
    const before = await footprint(inner);

    const refusedWith = async (type: string, data: Record<string, unknown>, actor = operator) => {
      const error = await rejection(engine.execute(command(type as never, data, { actor, commandId: X })));
      return { code: error.problem.code, issues: (error.problem as { issues?: unknown }).issues };
    };
    // When alice sends X again for commands on other streams: one that would be accepted, an unknown entity, a state
    // that refuses it, a fact that refuses it, a credential born expired
    const accepted = await refusedWith('registerNode', { nodeId: 'n3', profile });
    const refusals = [
      await refusedWith('expireCredential', { credentialId: 'c9' }),
      await refusedWith('revokeNode', { nodeId: 'n404', reason: 'keyCompromise' }),
      await refusedWith('establishAssociation', { associationId: 'a1', expiresAt: at(10) }),
      await refusedWith('enrolNode', { nodeId: 'n2', subscriptionId: 'sub-9', cseId: '/cse-n2' }),
      await refusedWith('issueCredential', issueCredentialData('c2', 'n2', { notBefore: T0, notAfter: T0 })),
    ];

    // Then every refusal is the reuse's, in the same words
    expect(accepted).toEqual({
      code: 'validation',
      issues: [{ path: 'metadata.commandId', rule: 'idempotency', message: `${X} was already used for a different command` }],
    });
    for (const refusal of refusals) expect(refusal).toEqual(accepted);

    // And another actor gets one answer whatever stream it aims at: it learns nothing of where X went
    const byBob = [
      await refusedWith('registerNode', { nodeId: 'n3', profile }, bob),
      await refusedWith('revokeNode', { nodeId: 'n404', reason: 'keyCompromise' }, bob),
      await refusedWith('enrolNode', { nodeId: 'n1', subscriptionId: 'sub-1', cseId: '/cse-n1' }, bob),
      await refusedWith('expireCredential', { credentialId: 'c1' }, bob),
    ];
    for (const refusal of byBob) {
      expect(refusal).toEqual({ code: 'validation', issues: [{ path: 'metadata.commandId', rule: 'idempotency', message: `${X} was already used by another actor` }] });
    }
    expect(await footprint(inner)).toEqual(before);
    await inner.close();
  });

  it('a refusal under an unused id stays the target\'s refusal, and an accepted command makes no look-up', async () => {
    const inner = await open();
    const { store, calls } = counted(inner);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    const notFound = await rejection(engine.execute(command('revokeNode', { nodeId: 'n404', reason: 'keyCompromise' }, { actor: operator, commandId: X })));
    expect(notFound.problem.code).toBe('not_found');
    const lookups = () => [...calls].filter(([name]) => /command/i.test(name) && name !== 'readCommand');
    expect(lookups().length).toBeGreaterThan(0);
    calls.clear();
    await engine.execute(cmd.registerNode('n1'));
    await engine.execute(cmd.enrolNode('n1'));
    expect(lookups()).toEqual([]);
    await inner.close();
  });
});
