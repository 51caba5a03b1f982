import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { nodePseudonym, PseudonymDeriver } from '../projections/pseudonyms/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { cmd, footprint, operator, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';

/**
 * Review 94: an on-demand rotation read the node's epoch from the pseudonym directory, a read model that lags behind
 * the store, and walked on from there past epochs taken by rotations beside it, 64 at most, then threw a plain Error
 * (an HTTP 500). Here the directory is not brought up to date while the rotations run (nothing settles it), as under
 * a burst. Demand rotations of one node now run one at a time, each past the latest epoch this process stored; when
 * the 64 epochs past the node's latest are all taken by rotations stored elsewhere, the answer is `busy`, a value.
 */
let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const open = async (nodes: readonly string[]) => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0), pseudonyms: { key: testKey } }));
  for (const nodeId of nodes) await c.engine.execute(cmd.registerNode(nodeId));
  await c.settle();
  return c;
};

const epochsOf = async (c: Credence): Promise<Map<string, number[]>> => {
  const epochs = new Map<string, number[]>();
  for await (const r of c.store.readAll({ filter: { eventTypes: ['PseudonymRotated'] } })) {
    const { nodeId, epoch } = r.data as { nodeId: string; epoch: number };
    epochs.set(nodeId, [...(epochs.get(nodeId) ?? []), epoch]);
  }
  return epochs;
};

describe('on-demand rotations of one node sent at once', () => {
  it('records each, at consecutive epochs, however many overlap', async () => {
    const nodes = ['meter-1', 'meter-2', 'meter-3'];
    const c = await open(nodes);
    const PER_NODE = 150;
    const outcomes = await Promise.all(
      Array.from({ length: PER_NODE * nodes.length }, (_, k) => c.pseudonyms!.rotateNow(nodes[k % nodes.length]!, operator)),
    );
    expect(outcomes.filter((o) => o.outcome !== 'rotated')).toEqual([]);
    const epochs = await epochsOf(c);
    for (const nodeId of nodes) {
      expect(epochs.get(nodeId)).toEqual(Array.from({ length: PER_NODE + 1 }, (_, epoch) => epoch));
      const answered = outcomes.flatMap((o) => (o.nodeId === nodeId && o.outcome === 'rotated' ? [o.epoch] : []));
      expect(answered).toEqual(Array.from({ length: PER_NODE }, (_, k) => k + 1));
    }
    await c.settle();
    expect(nodePseudonym(c.readModels, 'meter-1')?.epoch).toBe(PER_NODE);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('answers busy, recording nothing, when the 64 epochs past the latest it knows are taken; sent again, it starts past them', async () => {
    const c = await open(['meter-1']);
    const deriver = new PseudonymDeriver(testKey);
    // Rotations another process stored, which this one's directory has not taken in.
    for (let epoch = 1; epoch <= 65; epoch++) {
      const pseudonym = await deriver.node('meter-1', epoch);
      await c.engine.execute(command('rotatePseudonym', { nodeId: 'meter-1', pseudonym, epoch, trigger: 'demand' }, { actor: operator }));
    }
    const before = await footprint(c.store);
    expect(await c.pseudonyms!.rotateNow('meter-1', operator)).toEqual({
      outcome: 'busy',
      nodeId: 'meter-1',
      reason: '64 epochs past 0 are taken: rotations of this node stored elsewhere are not in the pseudonym directory yet',
    });
    expect(await footprint(c.store)).toEqual(before);
    expect(await c.pseudonyms!.rotateNow('meter-1', operator)).toMatchObject({ outcome: 'rotated', epoch: 66 });
    expect((await epochsOf(c)).get('meter-1')).toEqual(Array.from({ length: 67 }, (_, epoch) => epoch));
  });
});
