// Review 188: an interval round rotated its due nodes `ORDER BY rotated_at, node_id` under one `now`, so the nodes of
// one round came due together at every later round and their PseudonymRotated events were written in sorted Node-ID
// order. An admin who reads every Node-ID and every rotation's position and time (no resolution) matched rank to
// Node-ID and named every pseudonym's node. A round's rotations are recorded in the order of the pseudonyms they
// give out, which readers see anyway; neither Node-ID, registration, nor the previous pseudonyms order them.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DAY, FakeClock, SECOND } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { PseudonymDeriver, pseudonymRotation } from '../projections/pseudonyms/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { operator, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';

const NODES = 48;
/** Node-IDs registered in neither sorted nor reverse order: 0, 17, 34, 3, ... (17 is prime to 48). */
const REGISTERED = Array.from({ length: NODES }, (_, i) => `node-${String((i * 17) % NODES).padStart(2, '0')}`);
const BY_NODE_ID = [...REGISTERED].sort();

const registerNode = (nodeId: string) =>
  command('registerNode', { nodeId, profile: { class: 'meter', manufacturer: 'Acme', model: 'M-1', capabilities: [] } }, { actor: operator });

/** The nodes of one epoch's rotations, and their pseudonyms, in the order the log holds them. */
const recorded = (db: Database.Database, epoch: number) =>
  db.prepare('SELECT node_id AS nodeId, pseudonym FROM pseudonym_directory WHERE epoch = ? ORDER BY position').all(epoch) as { nodeId: string; pseudonym: string }[];

const byPseudonym = (rows: readonly { nodeId: string; pseudonym: string }[]) =>
  [...rows].sort((a, b) => (a.pseudonym < b.pseudonym ? -1 : a.pseudonym > b.pseudonym ? 1 : 0)).map((r) => r.nodeId);

const registerAll = async (c: Credence, clock: FakeClock) => {
  for (const nodeId of REGISTERED) {
    clock.advance(SECOND);
    await c.engine.execute(registerNode(nodeId));
  }
};

describe('an interval rotation round', () => {
  it('records its rotations in the order of their new pseudonyms, round after round', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key: testKey, policy: { default: { everyMs: DAY } } } });
    await registerAll(c, clock);
    await c.settle();
    expect(recorded(c.readModels, 0).map((r) => r.nodeId)).toEqual(REGISTERED);
    for (const epoch of [1, 2, 3]) {
      clock.advance(DAY);
      expect(await c.pseudonyms!.tick()).toBe(NODES);
      await c.settle();
      const round = recorded(c.readModels, epoch);
      const order = round.map((r) => r.nodeId);
      const previous = recorded(c.readModels, epoch - 1);
      expect(order).toEqual(byPseudonym(round));
      expect(order).not.toEqual(BY_NODE_ID);
      expect(order).not.toEqual(REGISTERED);
      // Not the previous round's order, nor its pseudonyms' order: a rank would link the two epochs.
      expect(order).not.toEqual(previous.map((r) => r.nodeId));
      expect(order).not.toEqual(byPseudonym(previous));
    }
    await c.close();
  });

  it('chooses the nodes a tick limit lets through by their new pseudonyms across the whole due set', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const rotation = pseudonymRotation({ engine: c.engine, deriver: new PseudonymDeriver(testKey), policy: { default: { everyMs: DAY } }, tickLimit: 12 });
    const runner = new ProjectionRunner({ db, store: c.store, projections: [rotation] });
    await registerAll(c, clock);
    await runner.catchUp();
    clock.advance(DAY);
    const next = await new PseudonymDeriver(testKey).nodes(REGISTERED.map((nodeId) => ({ nodeId, epoch: 1 })));
    const all = byPseudonym(REGISTERED.map((nodeId, i) => ({ nodeId, pseudonym: next[i]! })));
    for (const tick of [0, 1, 2, 3]) {
      expect(await rotation.tick()).toBe(12);
      await runner.catchUp();
      expect(recorded(db, 1).map((r) => r.nodeId)).toEqual(all.slice(0, 12 * (tick + 1)));
    }
    expect(recorded(db, 1).slice(0, 12).map((r) => r.nodeId)).not.toEqual(BY_NODE_ID.slice(0, 12));
    await c.close();
  });
});
