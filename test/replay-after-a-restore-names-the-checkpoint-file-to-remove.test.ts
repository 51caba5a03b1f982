import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { cmd, establishOne, fixture } from './support/fleet.ts';
import { capture } from './support/cli.ts';

/*
 * Review 51: `credence replay` after events.db was restored from an older backup said only "history altered: the
 * store ends before position N", which reads as tampering. The checkpoint file left in place (README, restoring
 * events.db, step 3) is the usual cause: the message names it and says to remove it.
 */
describe('credence replay on an events.db restored from an older backup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-replay-restored-'));
  const backup = mkdtempSync(join(tmpdir(), 'credence-replay-backup-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(backup, { recursive: true, force: true });
  });

  it('names replay-checkpoint.json and says to remove it after a restore, in text and in --json', async () => {
    // Given a backup of a short history, and a replay checkpoint written over a longer one
    let store = openSqliteStoreInDir(dir);
    const { engine } = fixture(store);
    await engine.execute(cmd.registerNode('meter-0'));
    await store.close();
    copyFileSync(join(dir, 'events.db'), join(backup, 'events.db'));
    store = openSqliteStoreInDir(dir);
    await establishOne(fixture(store).engine);
    await store.close();
    expect(await main(['replay', '--data', dir], capture().io)).toBe(0);

    // When the backup is put back and the checkpoint file is left in place
    copyFileSync(join(backup, 'events.db'), join(dir, 'events.db'));
    const text = capture();
    const code = await main(['replay', '--data', dir], text.io);

    // Then the run still fails, and says which file and which step of the restore
    expect(code).toBe(1);
    const altered = text.out.find((l) => l.startsWith('history altered: '));
    expect(altered).toMatch(/^history altered: the store ends before position \d+/);
    expect(altered).toContain(join(dir, 'replay-checkpoint.json'));
    expect(altered).toMatch(/After restoring events\.db from a backup, remove that file/);
    const json = capture();
    expect(await main(['replay', '--data', dir, '--json'], json.io)).toBe(1);
    expect(JSON.parse(json.out.join('\n')).verification.altered.reason).toContain('replay-checkpoint.json');
  });
});
