import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { STARTING_COMMANDS } from '../adapters/engine/starting-commands.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { cmd, operator, rejection, T0 } from './support/fleet.ts';

/** The store with every readStream recorded by stream id. */
const readsCounted = (store: EventStore) => {
  const reads: string[] = [];
  const counted = Object.create(store) as EventStore;
  counted.readStream = (streamId, options) => {
    reads.push(streamId);
    return store.readStream(streamId, options);
  };
  return { store: counted, reads };
};

const pseudonym = (c: string) => `p-${c.repeat(26)}`;

/**
 * Issue 15 items 2 and 5: a command that starts an entity (a registration, the new stream of a pseudonym rotation)
 * is decided on a new entity without reading its stream on a cache miss; the append's expected revision proves
 * the stream new, and everything a read would have caught is still caught.
 */
describe('a command starting an entity', () => {
  it('is derived from the machines: the commands whose event only a new stream accepts', () => {
    expect([...STARTING_COMMANDS].sort()).toEqual(
      ['configureAssociation', 'createSubscription', 'issueCredential', 'registerApplication', 'registerNode', 'rotatePseudonym'].sort(),
    );
  });

  it('reads neither its own new stream nor anything but its facts, and stores the same events', async () => {
    const raw = openSqliteStore({ memory: true });
    const { store, reads } = readsCounted(raw);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('meter-1'));
    reads.length = 0;
    const rotated = await engine.execute(
      command('rotatePseudonym', { pseudonym: pseudonym('a'), nodeId: 'meter-1', epoch: 0, trigger: 'initial' }, { actor: operator }),
    );
    expect(rotated.state).toBe('active');
    expect(reads).not.toContain(`pseudonym-${pseudonym('a')}`);
    expect((await raw.readStream(`pseudonym-${pseudonym('a')}`)).map((e) => e.type)).toEqual(['PseudonymRotated']);
    expect(engine.cacheStats().assumedNew).toBe(3);
    await raw.close();
  });

  it('is refused with the real state, writing nothing, when another writer created the stream meanwhile', async () => {
    const store = openSqliteStore({ memory: true });
    const other = createEngine({ store, clock: new FakeClock(T0) });
    await other.execute(cmd.createSubscription());
    await other.execute(cmd.registerNode('meter-1'));
    // This engine has never seen meter-1: its registration assumes a new stream, the append finds one.
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    const before = (await store.readStream('node-meter-1')).length;
    const refused = await rejection(engine.execute(cmd.registerNode('meter-1')));
    expect(refused.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized' });
    expect(await store.readStream('node-meter-1')).toHaveLength(before);
    await store.close();
  });

  it('gets the real refusal even with no retries allowed: the conflict of a guess is not a writer contending', async () => {
    const store = openSqliteStore({ memory: true });
    const other = createEngine({ store, clock: new FakeClock(T0) });
    await other.execute(cmd.createSubscription());
    await other.execute(cmd.registerNode('meter-1'));
    const engine = createEngine({ store, clock: new FakeClock(T0), maxRetries: 0 });
    const refused = await rejection(engine.execute(cmd.registerNode('meter-1')));
    expect(refused.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized' });
    expect(await store.readStream('node-meter-1')).toHaveLength(1);
    await store.close();
  });

  it('answers a retry recorded by another writer with that first outcome, appending nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const other = createEngine({ store, clock: new FakeClock(T0) });
    await other.execute(cmd.createSubscription());
    const register = { ...cmd.registerNode('meter-2'), metadata: { actor: operator, commandId: crypto.randomUUID() } };
    const first = await other.execute(register);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    const retried = await engine.execute(register);
    expect(retried.deduplicated).toBe(true);
    expect(retried.events.map((e) => e.id)).toEqual(first.events.map((e) => e.id));
    expect(await store.readStream('node-meter-2')).toHaveLength(1);
    await store.close();
  });
});
