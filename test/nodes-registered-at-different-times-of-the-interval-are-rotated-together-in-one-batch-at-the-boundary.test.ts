// Review 326 (SER-018, SER-025): a node came due for its interval rotation `everyMs` after its own last rotation, so a
// node registered at t rotated at t + Δ, t + 2Δ … within a tick, and a batch mostly held that one node. An integrator
// who saw the NodeRegistered frame's time for its first pseudonym, and the gap one rotation leaves at t + kΔ, knew
// which node rotated then, and the first new pseudonym after the gap was most likely its. Each class now rotates at
// boundaries the whole fleet shares (multiples of `everyMs` from the Unix epoch), so a batch holds every live node of
// the class, whenever each was registered.
import { describe, expect, it } from 'vitest';
import { DAY, FakeClock, HOUR, MINUTE } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { nodePseudonym, pseudonymHistory } from '../projections/pseudonyms/index.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';

const registerGateway = (nodeId: string) =>
  command('registerNode', { nodeId, profile: { class: 'gateway', manufacturer: 'Acme', model: 'GW-2', capabilities: ['mn-cse'] } }, { actor: operator });

const START = Date.parse(T0);

/** The interval rotations of the log, grouped by when they were recorded: one batch a time, nodes in log order. */
const batches = (c: Credence): { at: string; nodes: string[]; pseudonyms: string[] }[] => {
  const rows = c.readModels
    .prepare("SELECT node_id AS nodeId, pseudonym, occurred_at AS at FROM pseudonym_directory WHERE trigger = 'interval' ORDER BY position")
    .all() as { nodeId: string; pseudonym: string; at: string }[];
  const out: { at: string; nodes: string[]; pseudonyms: string[] }[] = [];
  for (const row of rows) {
    const last = out.at(-1);
    if (last?.at === row.at) {
      last.nodes.push(row.nodeId);
      last.pseudonyms.push(row.pseudonym);
    } else out.push({ at: row.at, nodes: [row.nodeId], pseudonyms: [row.pseudonym] });
  }
  return out;
};

const iso = (ms: number) => new Date(ms).toISOString();

describe('interval pseudonym rotations', () => {
  it('rotate nodes registered at different times of the interval together, in one batch at each boundary', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key: testKey, policy: { classes: { gateway: { everyMs: DAY } } } } });
    // Registered at 00:00, 08:00 and 16:00 of the first day; hourly ticks for three days.
    const registered = new Map([[0, 'gw-a'], [8, 'gw-b'], [16, 'gw-c']]);
    for (let hour = 0; hour <= 72; hour++) {
      clock.set(iso(START + hour * HOUR));
      const nodeId = registered.get(hour);
      if (nodeId !== undefined) await c.engine.execute(registerGateway(nodeId));
      await c.settle();
      await c.pseudonyms!.tick();
      await c.settle();
    }
    const found = batches(c);
    expect(found.map((b) => b.at)).toEqual([iso(START + DAY), iso(START + 2 * DAY), iso(START + 3 * DAY)]);
    for (const batch of found) {
      expect([...batch.nodes].sort()).toEqual(['gw-a', 'gw-b', 'gw-c']);
      // In the keyed order of the new pseudonyms, as every round is (review 188).
      expect(batch.pseudonyms).toEqual([...batch.pseudonyms].sort());
    }
    for (const nodeId of ['gw-a', 'gw-b', 'gw-c']) expect(nodePseudonym(c.readModels, nodeId)?.epoch).toBe(3);
    await c.close();
  });

  it('leave a node rotated on demand or on association just after a boundary until the next boundary', async () => {
    const clock = new FakeClock(T0);
    const policy = { classes: { 'smart-meter': { everyMs: DAY, onAssociation: true } } };
    const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key: testKey, policy } });
    for (const step of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-1'), cmd.issueCredential('cred-1', 'meter-1'), cmd.provisionCredential('cred-1')]) {
      await c.engine.execute(step);
      await c.settle();
    }
    // A minute past the first boundary, before any tick there: meter-1 rotates on association, meter-2 on demand.
    clock.set(iso(START + DAY + MINUTE));
    await c.engine.execute(cmd.configureAssociation('sa-1', 'cred-1', 'meter-1'));
    await c.settle();
    expect(await c.pseudonyms!.rotateNow('meter-2', operator)).toMatchObject({ outcome: 'rotated', epoch: 1 });
    await c.settle();
    for (let at = START + DAY + HOUR; at < START + 2 * DAY; at += HOUR) {
      clock.set(iso(at));
      expect(await c.pseudonyms!.tick()).toBe(0);
    }
    clock.set(iso(START + 2 * DAY));
    expect(await c.pseudonyms!.tick()).toBe(2);
    await c.settle();
    expect(pseudonymHistory(c.readModels, 'meter-1').map((e) => [e.epoch, e.trigger])).toEqual([[0, 'initial'], [1, 'association'], [2, 'interval']]);
    expect(pseudonymHistory(c.readModels, 'meter-2').map((e) => [e.epoch, e.trigger])).toEqual([[0, 'initial'], [1, 'demand'], [2, 'interval']]);
    await c.close();
  });
});
