// Review 189: each interval tick derived the next pseudonyms of the whole due set and sorted it, to take `tickLimit`
// of it (the round's keyed order, review 188). Past the deriver's memo every tick made a PRF call per due node: with
// the memo cut to 2,000, 3,000 due nodes and a limit of 100 made 3,000, 970, 1,548, ... PRF calls a tick, where 100
// were needed; 1,000,000 due nodes after downtime, a million Secure Environment calls and a million-element sort a
// tick. A round is derived and ordered once and spent over its ticks; what moved meanwhile is passed over at its turn,
// and what came due meanwhile waits for the next round.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DAY, FakeClock, HOUR } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import { PseudonymDeriver, pseudonymRotation, type PseudonymKey, type RotationPolicyInput } from '../projections/pseudonyms/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { operator, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';

const registerNode = (nodeId: string, profileClass = 'meter') =>
  command('registerNode', { nodeId, profile: { class: profileClass, manufacturer: 'Acme', model: 'M-1', capabilities: [] } }, { actor: operator });

/** The test key, counting the messages it MACs (the Secure Environment's PRF calls). */
const countingKey = () => {
  const counted = { messages: 0 };
  const mac = (m: Uint8Array) => hmacSha256(new Uint8Array(32).fill(7), m);
  const key: PseudonymKey = {
    prf: async (m) => (counted.messages++, mac(m)),
    prfMany: async (ms) => ((counted.messages += ms.length), ms.map(mac)),
  };
  return { key, counted };
};

/** The nodes of one epoch's rotations in the order the log holds them. */
const recorded = (db: Database.Database, epoch: number) =>
  (db.prepare('SELECT node_id AS nodeId FROM pseudonym_directory WHERE epoch = ? ORDER BY position').all(epoch) as { nodeId: string }[]).map((r) => r.nodeId);

/** `nodes` in the order of their pseudonyms of `epoch`. */
const keyedOrder = async (nodes: readonly string[], epoch: number) => {
  const next = await new PseudonymDeriver(testKey).nodes(nodes.map((nodeId) => ({ nodeId, epoch })));
  return nodes.map((nodeId, i) => ({ nodeId, p: next[i]! })).sort((a, b) => (a.p < b.p ? -1 : a.p > b.p ? 1 : 0)).map((r) => r.nodeId);
};

const fleet = async (tickLimit: number, cacheSize?: number, policy: RotationPolicyInput = { default: { everyMs: DAY } }) => {
  const clock = new FakeClock(T0);
  const c: Credence = openCredence({ location: { memory: true }, clock });
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  const { key, counted } = countingKey();
  const rotation = pseudonymRotation({ engine: c.engine, deriver: new PseudonymDeriver(key, cacheSize), policy, tickLimit });
  const runner = new ProjectionRunner({ db, store: c.store, projections: [rotation] });
  return { clock, c, db, counted, rotation, runner };
};

describe('an interval rotation round', () => {
  it('derives the next pseudonyms of its due set once, not at every tick it takes to spend it', async () => {
    const { clock, c, db, counted, rotation, runner } = await fleet(100, 2_000);
    const nodes = Array.from({ length: 3_000 }, (_, i) => `node-${String(i).padStart(4, '0')}`);
    for (const nodeId of nodes) await c.engine.execute(registerNode(nodeId));
    await runner.catchUp();
    clock.advance(DAY);
    counted.messages = 0;
    const perTick: number[] = [];
    for (let tick = 0; tick < 30; tick++) {
      const before = counted.messages;
      expect(await rotation.tick()).toBe(100);
      await runner.catchUp();
      perTick.push(counted.messages - before);
    }
    expect(perTick).toEqual([3_000, ...Array<number>(29).fill(0)]);
    // One keyed order across the whole round, whichever tick recorded each rotation.
    expect(recorded(db, 1)).toEqual(await keyedOrder(nodes, 1));
    expect(await rotation.tick()).toBe(0);
    await c.close();
  }, 60_000);

  it('passes over a node rotated or revoked since it was read, and leaves a node come due since for the next round', async () => {
    // Each class rotates at the multiples of its interval from the Unix epoch (review 326): the late nodes, of a class
    // rotated every 36 hours (T0 is one of its boundaries), come due at T0 + 36 h, after the round read at T0 + 24 h
    // and before it is spent, while the nodes that round rotated wait for the next day.
    expect(Date.parse(T0) % (36 * HOUR)).toBe(0);
    const { clock, c, db, rotation, runner } = await fleet(12, undefined, { default: { everyMs: DAY }, classes: { slow: { everyMs: 36 * HOUR } } });
    const early = Array.from({ length: 36 }, (_, i) => `early-${String((i * 7) % 36).padStart(2, '0')}`);
    const late = Array.from({ length: 12 }, (_, i) => `late-${String((i * 5) % 12).padStart(2, '0')}`);
    for (const nodeId of early) await c.engine.execute(registerNode(nodeId));
    // Their first pseudonyms are taken when the directory reacts to their registration.
    await runner.catchUp();
    clock.advance(12 * HOUR);
    for (const nodeId of late) await c.engine.execute(registerNode(nodeId, 'slow'));
    await runner.catchUp();
    clock.advance(12 * HOUR);
    const round = await keyedOrder(early, 1);
    expect(await rotation.tick()).toBe(12);
    await runner.catchUp();
    // Since the round was read: one node rotated on demand, one revoked, and the late nodes came due.
    const [demanded, revoked] = [round[20]!, round[30]!];
    expect((await rotation.rotateNow(demanded, operator)).outcome).toBe('rotated');
    await c.engine.execute(command('revokeNode', { nodeId: revoked, reason: 'keyCompromise' }, { actor: operator }));
    clock.advance(12 * HOUR);
    await runner.catchUp();
    expect(await rotation.tick()).toBe(11);
    expect(await rotation.tick()).toBe(11);
    await runner.catchUp();
    // The demand's rotation where it was asked; the round's own in its keyed order, neither of the two in it.
    expect(recorded(db, 1)).toEqual([...round.slice(0, 12), demanded, ...round.slice(12).filter((n) => n !== demanded && n !== revoked)]);
    expect(db.prepare('SELECT trigger FROM pseudonym_directory WHERE node_id = ? AND epoch = 1').pluck().get(demanded)).toBe('demand');
    expect(recorded(db, 2)).toEqual([]);
    // The next round: the late nodes, in their own keyed order.
    expect(await rotation.tick()).toBe(12);
    await runner.catchUp();
    expect(recorded(db, 1).slice(35)).toEqual(await keyedOrder(late, 1));
    await c.close();
  });
});
