// Issue 10 item 6: the `system:` actor ids are the engine's own, and a command id belongs to the actor who used it first.
import { describe, expect, it } from 'vitest';
import { command, parseCommand } from '../domain/commands/index.ts';
import { isCommandIdReused } from '../domain/errors.ts';
import type { Actor } from '../domain/metadata.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { replayedOutcome } from '../adapters/engine/idempotency.ts';
import { cmd, establishOne, fixture, footprint, operator, rejection, system, T0 } from './support/fleet.ts';


const subscription = (actor: Actor, subscriptionId = 'sub-9') =>
  command('createSubscription', { subscriptionId, subscriber: 'x', notBefore: T0, notAfter: '2027-01-01T00:00:00.000Z' }, { actor });

describe('the system: actor ids are reserved to the engine', () => {
  it.each([
    ['the process manager id as an operator', { id: 'system:process-manager', role: 'operator' }, subscription],
    ['a made-up system: id as an operator', { id: 'system:ops-bot', role: 'operator' }, subscription],
    ['the prefix in another case as an operator', { id: 'SYSTEM:process-manager', role: 'operator' }, subscription],
    [
      'a system: id as an auditor',
      { id: 'system:audit', role: 'auditor' },
      (actor: Actor) => command('resolvePseudonym', { pseudonym: `p-${'a'.repeat(26)}`, reason: 'incident' }, { actor }),
    ],
  ] as const)('%s is unauthorised and nothing is written', async (_, actor, build) => {
    const { engine, store } = fixture();
    await engine.execute(cmd.createSubscription());
    const before = await footprint(store);
    const error = await rejection(engine.execute(build(actor)));
    expect(error.problem).toMatchObject({ code: 'unauthorised', actor: actor.id });
    expect(error.message).toMatch(/reserved/);
    expect(await footprint(store)).toEqual(before);
  });

  it.each([
    ['a zero-width space in front', '\u200Bsystem:process-manager'],
    ['a zero-width space before the colon', 'system\u200B:process-manager'],
    ['a Cyrillic lookalike letter', '\u0455ystem:process-manager'],
    ['a full-width colon', 'system\uFF1Aprocess-manager'],
    ['a bidi isolate', '\u2066system:process-manager'],
    ['a space', 'system: process-manager'],
  ])('an actor id imitating the reserved prefix with %s is refused as a validation error, writing nothing', async (_, id) => {
    const { engine, store } = fixture();
    await engine.execute(cmd.createSubscription());
    const before = await footprint(store);
    const error = await rejection(engine.execute(subscription({ id, role: 'operator' })));
    expect(error.problem).toMatchObject({ code: 'validation', issues: [expect.objectContaining({ path: 'metadata.actor.id' })] });
    expect(await footprint(store)).toEqual(before);
  });

  it('an id the engine is configured to run as system is reserved the same way, whatever its prefix', async () => {
    const { store, clock } = fixture();
    const engine = createEngine({ store, clock, systemActors: ['ops:robot'] });
    const error = await rejection(engine.execute(subscription({ id: 'ops:robot', role: 'operator' })));
    expect(error.problem).toMatchObject({ code: 'unauthorised', actor: 'ops:robot' });
    expect(await footprint(store)).toEqual({ head: undefined, count: 0 });
    expect((await engine.executeAsSystem(subscription({ id: 'ops:robot', role: 'system' }))).state).toBe('active');
  });

  it('the reverse, the system role claimed from outside, stays refused under any id', async () => {
    const { engine, store } = fixture();
    for (const actor of [system, { id: 'operator:alice', role: 'system' } as const]) {
      const error = await rejection(engine.execute(subscription(actor)));
      expect(error.problem).toMatchObject({ code: 'unauthorised', actor: actor.id });
    }
    expect(await footprint(store)).toEqual({ head: undefined, count: 0 });
    // The engine's own actors still act, through executeAsSystem.
    expect((await engine.executeAsSystem(subscription(system))).state).toBe('active');
  });
});

describe('a command id belongs to the actor who used it first', () => {
  const commandId = '6e1d2c3b-4a59-4f68-9b7a-8c9d0e1f2a3b';
  const mallory: Actor = { id: 'operator:mallory', role: 'operator' };

  it('the same command re-sent by a different actor is refused as a reuse, without naming the first actor, and writes nothing', async () => {
    const { engine, store } = fixture();
    await establishOne(engine);
    const first = await engine.execute({ ...cmd.revokeCredential(), metadata: { actor: operator, commandId } });
    expect(first.deduplicated).toBe(false);
    const before = await footprint(store);
    const error = await rejection(engine.execute({ ...cmd.revokeCredential(), metadata: { actor: mallory, commandId } }));
    expect(isCommandIdReused(error)).toBe(true);
    expect(error.message).toMatch(/already used by another actor/);
    expect(error.message).not.toContain(operator.id);
    expect(await footprint(store)).toEqual(before);
    // The first actor re-sending it still gets the first outcome.
    expect((await engine.execute({ ...cmd.revokeCredential(), metadata: { actor: operator, commandId } })).deduplicated).toBe(true);
  });

  it('another actor learns nothing about the first command: a different command under the id gets the same answer', async () => {
    const { engine } = fixture();
    await establishOne(engine);
    await engine.execute({ ...cmd.revokeCredential(), metadata: { actor: operator, commandId } });
    const same = await rejection(engine.execute({ ...cmd.revokeCredential(), metadata: { actor: mallory, commandId } }));
    const other = await rejection(engine.execute({ ...cmd.revokeCredential('cred-1', 'superseded'), metadata: { actor: mallory, commandId } }));
    expect(other.message).toBe(same.message);
  });

  it('an engine that learns of the earlier use only from the store refuses it too and writes nothing', async () => {
    const { store, clock } = fixture();
    // The stale engine's appends, to see that the store (not the engine's read) reported the id as used.
    const deduplicated: boolean[] = [];
    const watched: EventStore = Object.assign(Object.create(store) as EventStore, {
      appendToStream: async (...args: Parameters<EventStore['appendToStream']>) => {
        const result = await store.appendToStream(...args);
        deduplicated.push(result.deduplicated);
        return result;
      },
    });
    const stale = createEngine({ store: watched, clock });
    await establishOne(stale);
    await stale.entity('credential', 'cred-1'); // cached: the next decision is made without a read
    await createEngine({ store, clock }).execute({ ...cmd.revokeCredential(), metadata: { actor: operator, commandId } });
    const before = await footprint(store);
    const error = await rejection(stale.execute({ ...cmd.revokeCredential(), metadata: { actor: mallory, commandId } }));
    expect(deduplicated.at(-1)).toBe(true);
    expect(isCommandIdReused(error)).toBe(true);
    expect(error.message).toMatch(/already used by another actor/);
    expect(await footprint(store)).toEqual(before);
  });

  it('the same actor id under another role is another actor', async () => {
    const { engine } = fixture();
    await establishOne(engine);
    const first = await engine.execute({ ...cmd.revokeCredential(), metadata: { actor: operator, commandId } });
    const entity = await engine.entity('credential', 'cred-1');
    const seen = entity.events.filter((e) => e.metadata.commandId === first.commandId);
    const resent = parseCommand({ ...cmd.revokeCredential(), metadata: { actor: { id: operator.id, role: 'system' }, commandId } });
    expect(() => replayedOutcome(resent, entity, seen)).toThrow(/already used by another actor/);
    const same = parseCommand({ ...cmd.revokeCredential(), metadata: { actor: operator, commandId } });
    expect(replayedOutcome(same, entity, seen).deduplicated).toBe(true);
  });
});
