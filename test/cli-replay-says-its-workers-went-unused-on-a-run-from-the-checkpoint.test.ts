/**
 * Review 186 item 6: `credence replay --workers 2` without `--full` was taken without a word. The workers serve a
 * verification in full, which a run without `--full` is too when it has no checkpoint to go on from (the first run, a
 * checkpoint it cannot continue); one that goes on from the checkpoint verifies the new events on this thread, and now
 * says that the workers were not used (a note on stdout, and in `--json`'s notes).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { establishOne, fixture } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

describe('credence replay --workers without --full', () => {
  const folder = temporaryFolders('credence-replay-workers-');

  it('says the workers went unused when the run went on from the checkpoint, and not when it verified in full', async () => {
    const dir = join(folder(), 'data');
    const store = openSqliteStoreInDir(dir);
    const { engine } = fixture(store);
    await establishOne(engine);
    await store.close();

    const first = capture();
    expect(await main(['replay', '--data', dir], first.io), first.err.join('\n')).toBe(0);

    const again = capture();
    expect(await main(['replay', '--data', dir, '--workers', '2'], again.io), again.err.join('\n')).toBe(0);
    expect(again.out.join('\n')).toContain(
      '  note: --workers 2: not used: this run went on from the checkpoint and verified the 0 events after it on this thread; workers serve a verification in full (--full, or a run with no checkpoint to go on from)',
    );
    const asJson = capture();
    expect(await main(['replay', '--data', dir, '--workers', '2', '--json'], asJson.io)).toBe(0);
    expect(JSON.parse(asJson.out.join('\n')).verification.notes).toContainEqual(expect.stringMatching(/^--workers 2: not used: /));

    const full = capture();
    expect(await main(['replay', '--data', dir, '--workers', '2', '--full'], full.io), full.err.join('\n')).toBe(0);
    expect(full.out.join('\n')).not.toContain('--workers');
  }, 120_000);
});
