import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { CheckpointFile, readCheckpointFileJson } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { dataDirs } from './replay.fixtures.ts';
import { cmd, fixture, establishOne } from './support/fleet.ts';

/*
 * Found in review: the replay checkpoint (replay-checkpoint.json, in the data folder) was trusted as read. An entity
 * given a state its machine does not have made the next run throw at the first event that touched it; an entity put
 * under another kind gave a false finding on a legal event. Such a checkpoint is now ignored, with a note, and the
 * whole log verified again; and an incremental run says that the events before the checkpoint were not read again.
 */
describe('a replay checkpoint whose entities are not where they say', () => {
  const dataDir = dataDirs('credence-replay-checkpoint-entities-');

  const edited = (dir: string, change: (entities: unknown[][]) => void): void => {
    const path = new CheckpointFile(dir).path;
    const checkpoint = readCheckpointFileJson(path) as { entities: unknown[][] };
    change(checkpoint.entities);
    writeFileSync(path, JSON.stringify(checkpoint));
  };

  for (const [what, change] of [
    ['a state its machine does not have', (entities: unknown[][]) => entities.forEach((e) => e[0] === 'credential-cred-1' && (e[3] = 'no-such-state'))],
    ['another kind than its stream\'s', (entities: unknown[][]) => entities.forEach((e) => e[0] === 'association-sa-1' && (e[1] = 'node'))],
  ] as const) {
    it(`is ignored for an entity with ${what}, and the log verified in full`, async () => {
      const dir = dataDir();
      const store = openSqliteStoreInDir(dir);
      const { engine } = fixture(store);
      await establishOne(engine);
      const first = capture();
      expect(await main(['replay', '--data', dir], first.io)).toBe(0);
      await engine.execute(cmd.revokeCredential());
      await store.close();
      edited(dir, change);

      const again = capture();
      expect(await main(['replay', '--data', dir], again.io), again.out.join('\n')).toBe(0);
      const out = again.out.join('\n');
      expect(out).toMatch(/note: checkpoint ignored: .*entities/);
      expect(out).toMatch(/every stored transition is legal/);
      // Verified in full, and a true checkpoint written: the next run continues from it, and says what that means.
      const third = capture();
      expect(await main(['replay', '--data', dir], third.io)).toBe(0);
      expect(third.out.join('\n')).toMatch(/note: the events up to position \d+ were judged by an earlier run \(replay-checkpoint\.json\), not read again/);
    }, 60_000);
  }
});
