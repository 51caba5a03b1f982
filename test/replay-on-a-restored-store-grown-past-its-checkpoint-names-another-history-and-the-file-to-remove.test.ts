import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { cmd, establishOne, fixture } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { readCheckpointFileJson } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';

/*
 * Review 228, finding 2: after events.db was restored from an older backup with replay-checkpoint.json left in place,
 * the restore hint (README, restoring events.db, step 3) was given only while the store was shorter than the
 * checkpoint. Once the restored store had grown past it, `credence replay` said "the record at position N it ends on
 * was altered" and "altered, removed or inserted": the record there is another event, under another id. The
 * checkpoint now keeps the id of the event it ends on, and a store holding another one there is called another
 * history, with the file to remove. Still exit 1: the checkpoint no longer vouches for what is stored.
 */
describe('credence replay on a restored events.db grown past the checkpoint', () => {
  const folder = temporaryFolders('credence-replay-restored-grown-');

  /** A folder whose checkpoint covers a longer history than its restored events.db, which has since grown past it. */
  const restoredAndGrown = async () => {
    const root = folder();
    const dir = join(root, 'data');
    const backup = join(root, 'events.db.backup');
    let store = openSqliteStoreInDir(dir);
    await fixture(store).engine.execute(cmd.registerNode('meter-0'));
    await store.close();
    copyFileSync(join(dir, 'events.db'), backup);
    store = openSqliteStoreInDir(dir);
    await establishOne(fixture(store).engine);
    await store.close();
    expect(await main(['replay', '--data', dir], capture().io)).toBe(0);
    const checkpointPath = join(dir, 'replay-checkpoint.json');
    const position = BigInt((readCheckpointFileJson(checkpointPath) as { position: string }).position);

    copyFileSync(backup, join(dir, 'events.db'));
    store = openSqliteStoreInDir(dir);
    const { engine } = fixture(store);
    for (let n = 0; ((await store.headPosition()) ?? 0n) <= position; n++) await engine.execute(cmd.registerNode(`meter-after-restore-${n}`));
    await store.close();
    return { dir, checkpointPath, position };
  };

  it('says the stored history is another one, naming the file to remove after a restore, in text and in --json, exit 1', async () => {
    const { dir, checkpointPath, position } = await restoredAndGrown();

    const text = capture();
    expect(await main(['replay', '--data', dir], text.io)).toBe(1);
    const out = text.out.join('\n');
    expect(out).toContain(`note: checkpoint not continued: the record at position ${position} it ends on is another event than the one it verified there (another history); verified in full`);
    const altered = text.out.find((l) => l.startsWith('history altered: '));
    expect(altered).toMatch(new RegExp(`^history altered: the stored history up to position ${position} is another one than the one verified at \\S+: the event there is not the one it ended on`));
    expect(altered).not.toMatch(/was altered|altered, removed or inserted/);
    expect(altered).toContain(`${checkpointPath} was written over another history, or the events up to it were rewritten, the event at its position too: its id alone does not tell which. Keep the file until`);
    expect(altered).toContain('After restoring events.db from a backup, remove that file');

    const json = capture();
    expect(await main(['replay', '--data', dir, '--json'], json.io)).toBe(1);
    expect(JSON.parse(json.out.join('\n')).verification.altered.reason).toContain(`${checkpointPath} was written over another history`);
  }, 60_000);

  it('keeps the earlier wording for a checkpoint written before it kept the id of the event it ends on', async () => {
    const { dir, position } = await restoredAndGrown();
    const path = join(dir, 'replay-checkpoint.json');
    const { lastEventId: _id, ...older } = readCheckpointFileJson(path) as Record<string, unknown>;
    expect(_id).toEqual(expect.any(String));
    writeFileSync(path, JSON.stringify(older));

    const text = capture();
    expect(await main(['replay', '--data', dir], text.io)).toBe(1);
    expect(text.out.join('\n')).toContain(`the record at position ${position} it ends on was altered`);
    expect(text.out.find((l) => l.startsWith('history altered: '))).toMatch(/an event at or before it was altered, removed or inserted$/);
  }, 60_000);
});
