// Review 163: an interval tick read a node as due at epoch 0, an operator's rotation took epoch 1 meanwhile, and the
// tick walked on and recorded epoch 2 in the same instant: the operator was answered with a pseudonym already
// replaced, though the policy says to rotate once the current pseudonym is `everyMs` old. A taken epoch means the
// node was rotated since the tick read it: it is rotated only if that rotation is itself due.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DAY, FakeClock, MINUTE } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { nodePseudonym, PseudonymDeriver, pseudonymHistory, pseudonymRotation } from '../projections/pseudonyms/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { operator, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';

const registerGateway = (nodeId: string) =>
  command('registerNode', { nodeId, profile: { class: 'gateway', manufacturer: 'Acme', model: 'GW-2', capabilities: ['mn-cse'] } }, { actor: operator });

const POLICY = { classes: { gateway: { everyMs: DAY } } };

const history = (c: Credence, nodeId = 'gw-1') => pseudonymHistory(c.readModels, nodeId).map((e) => [e.epoch, e.trigger]);

/** A service whose gateway gw-1 is due: registered, its first pseudonym a day old. */
const dueGateway = async () => {
  const clock = new FakeClock(T0);
  const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key: testKey, policy: POLICY } });
  await c.engine.execute(registerGateway('gw-1'));
  await c.settle();
  clock.advance(DAY);
  return { c, clock };
};

describe('an interval tick and an operator rotating the same due node at once', () => {
  for (const order of ['tick first', 'operator first'] as const) {
    it(`leaves the operator's rotation current (${order})`, async () => {
      const { c, clock } = await dueGateway();
      const rotation = c.pseudonyms!;
      const tick = () => rotation.tick();
      const demand = () => rotation.rotateNow('gw-1', operator);
      const both = async () => {
        if (order === 'tick first') return Promise.all([tick(), demand()]);
        const [demanded, tickedAfter] = await Promise.all([demand(), tick()]);
        return [tickedAfter, demanded] as const;
      };
      const [ticked, answer] = await both();
      await c.settle();

      expect(answer).toMatchObject({ outcome: 'rotated', epoch: 1 });
      expect(ticked).toBe(0);
      expect(history(c)).toEqual([[0, 'initial'], [1, 'demand']]);
      expect(nodePseudonym(c.readModels, 'gw-1')?.pseudonym).toBe(answer.outcome === 'rotated' ? answer.pseudonym : undefined);

      // Not due again until the class's next boundary (review 326), a day after the operator's rotation at one: not a
      // minute short of it, due at it.
      clock.advance(DAY - MINUTE);
      expect(await rotation.tick()).toBe(0);
      clock.advance(MINUTE);
      expect(await rotation.tick()).toBe(1);
      await c.settle();
      expect(history(c)).toEqual([[0, 'initial'], [1, 'demand'], [2, 'interval']]);
      await c.close();
    });
  }
});

/**
 * Two rotation process managers over one engine, each with its own directory: `here` ticks, `there` stands for any
 * rotation `here` has not applied yet (another process's, or one of its own the directory does not show).
 */
const twoRotations = async () => {
  const clock = new FakeClock(T0);
  const c = openCredence({ location: { memory: true }, clock });
  const side = () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const rotation = pseudonymRotation({ engine: c.engine, deriver: new PseudonymDeriver(testKey), policy: POLICY });
    const runner = new ProjectionRunner({ db, store: c.store, projections: [rotation] });
    return { db, rotation, catchUp: () => runner.catchUp() };
  };
  const here = side();
  const there = side();
  await c.engine.execute(registerGateway('gw-1'));
  await here.catchUp();
  await there.catchUp();
  const epochs = async () => {
    await here.catchUp();
    return pseudonymHistory(here.db, 'gw-1').map((e) => [e.epoch, e.trigger]);
  };
  return { c, clock, here, there, epochs };
};

describe('an interval tick whose directory has not caught up with a rotation of the node', () => {
  it('skips the node when the rotation was recorded elsewhere, and rotates it once that one is due', async () => {
    const { c, clock, here, there, epochs } = await twoRotations();
    clock.advance(DAY);
    expect(await there.rotation.rotateNow('gw-1', operator)).toMatchObject({ outcome: 'rotated', epoch: 1 });
    // `here` still lists gw-1 at epoch 0, a day old; epoch 1 is taken, at a time it does not know: not rotated now.
    expect(await here.rotation.tick()).toBe(0);
    expect(await epochs()).toEqual([[0, 'initial'], [1, 'demand']]);
    expect(await here.rotation.tick()).toBe(0);
    clock.advance(DAY);
    expect(await here.rotation.tick()).toBe(1);
    expect(await epochs()).toEqual([[0, 'initial'], [1, 'demand'], [2, 'interval']]);
    await c.close();
  });

  it('walks on past a rotation it recorded itself that is due by now', async () => {
    const { c, clock, here, epochs } = await twoRotations();
    clock.advance(DAY);
    expect(await here.rotation.rotateNow('gw-1', operator)).toMatchObject({ outcome: 'rotated', epoch: 1 });
    // A day on, its directory still at epoch 0: epoch 1 is taken by a rotation a day old, due itself.
    clock.advance(DAY);
    expect(await here.rotation.tick()).toBe(1);
    expect(await epochs()).toEqual([[0, 'initial'], [1, 'demand'], [2, 'interval']]);
    await c.close();
  });

  it('skips the node when the rotation it recorded itself is recent', async () => {
    const { c, clock, here, epochs } = await twoRotations();
    clock.advance(DAY);
    expect(await here.rotation.rotateNow('gw-1', operator)).toMatchObject({ outcome: 'rotated', epoch: 1 });
    clock.advance(DAY - MINUTE);
    expect(await here.rotation.tick()).toBe(0);
    expect(await epochs()).toEqual([[0, 'initial'], [1, 'demand']]);
    await c.close();
  });
});
