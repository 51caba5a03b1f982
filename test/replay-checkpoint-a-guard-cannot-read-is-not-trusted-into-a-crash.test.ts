import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { CheckpointFile, readCheckpointFileJson } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import { replayAll } from '../projections/replay/index.ts';
import { dataDirs, forge } from './replay.fixtures.ts';
import { at, establishOne, fixture } from './support/fleet.ts';

/*
 * Found in review: a replay checkpoint whose entity context its schema accepts (any JSON object) but a guard cannot
 * read (`liveAssociations: 5`) crashed the incremental replay at the first event that touched the entity. The file
 * sits in the data folder; going on from it now falls back to a full verification, and says so.
 */
describe('a replay checkpoint edited into a context a guard cannot read', () => {
  const dataDir = dataDirs('credence-replay-bad-context-');

  it('is left for a full verification, with a note, giving the full verdict', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    const { engine } = fixture(store);
    await establishOne(engine);
    const checkpoint = new CheckpointFile(dir);
    expect(await verifyFleet(store, { checkpoint })).toMatchObject({ mode: 'full', replay: { findings: [] } });
    const file = readCheckpointFileJson(checkpoint.path) as { entities: unknown[][] };
    const node = file.entities.find((e) => e[0] === 'node-meter-1')!;
    node[4] = { ...(node[4] as object), liveAssociations: 5 };
    writeFileSync(checkpoint.path, JSON.stringify(file));
    expect(checkpoint.load()).toMatchObject({ ok: true });
    await forge(store, 'node-meter-1', 'NodeAssociated', { nodeId: 'meter-1', associationId: 'sa-1' }, at(2));
    const verified = await verifyFleet(store, { checkpoint });
    expect(verified.mode).toBe('full');
    // Since machines v8 the guard is one of two (`and`, review 234), which XState names by the event and what failed.
    expect(verified.notes).toEqual([expect.stringMatching(/^checkpoint not continued: going on from it failed \(.*NodeAssociated.*liveAssociations.*\); verified in full$/)]);
    expect(verified.replay).toEqual(await replayAll(store));
    await store.close();
  });
});
