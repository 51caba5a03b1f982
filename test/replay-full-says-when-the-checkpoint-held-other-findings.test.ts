import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { at, establishOne, fixture } from './support/fleet.ts';
import { dataDirs, forge } from './replay.fixtures.ts';
import { capture } from './support/cli.ts';
import { readCheckpointFileJson } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';

/*
 * Review 284 #2: a checkpoint edited consistently (its findings set to [] by hand) is trusted by the next run, and
 * `--full`, said to compare with the checkpoint, replaced it without a word. It now says the two disagree.
 */
describe('credence replay --full over a checkpoint whose findings were edited', () => {
  const dataDir = dataDirs('credence-replay-full-findings-');

  it('says the checkpoint held fewer findings than the full verification found up to its position, exit 1 as the verdict', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    await establishOne(fixture(store).engine);
    await forge(store, 'node-meter-1', 'NodeRevoked', { nodeId: 'meter-1', reason: 'not-a-reason' }, at(1));
    await store.close();
    expect(await main(['replay', '--data', dir], capture().io)).toBe(1);

    const file = join(dir, 'replay-checkpoint.json');
    const checkpoint = readCheckpointFileJson(file) as { findings: unknown[]; position: string };
    expect(checkpoint.findings).toHaveLength(1);
    writeFileSync(file, JSON.stringify({ ...checkpoint, findings: [] }));
    // The edit is consistent: a run that goes on from it trusts it.
    expect(await main(['replay', '--data', dir], capture().io)).toBe(0);

    const full = capture();
    expect(await main(['replay', '--data', dir, '--full'], full.io)).toBe(1);
    expect(full.out).toContainEqual(
      `  note: the replay checkpoint held 0 findings up to position ${checkpoint.position}, the full verification found 1 there: ` +
        'the checkpoint was altered or written by other rules',
    );
    expect(full.out).toContain('verdict: 1 broken histories');
    // Replaced by the full verdict: the next run goes on from the one finding.
    expect(await main(['replay', '--data', dir], capture().io)).toBe(1);
    const again = capture();
    expect(await main(['replay', '--data', dir, '--full'], again.io)).toBe(1);
    expect(again.out.join('\n')).not.toContain('the replay checkpoint held');
  });
});
