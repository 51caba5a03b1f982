import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyInDir } from '../adapters/driven/transparency/index.ts';
import { runCli } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 321: an events.db put back from an older backup beside the newer log read `TAMPERED: deleted at position 6:
 * logged event … is missing from the store`, with no word of a restore, which `credence replay` names. The finding
 * where the store ends before the log names both, and the README step that keeps a log beside an older store.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const exported = async (dir: string): Promise<void> => {
  expect((await runCli(['export', 'credential-meter-1', '--out', join(dirs.make(), 'b.json'), '--data', dir])).code).toBe(0);
};

describe('verify --data over an events.db older than its log', () => {
  it('names an older backup restored as well as events deleted from the end', async () => {
    const dir = dirs.make();
    let store = openSqliteStoreInDir(dir);
    await appendEvents(store, 5);
    await store.close();
    openTransparencyInDir(dir).log.close();
    await exported(dir);
    const backup = join(dirs.make(), 'events.db');
    copyFileSync(join(dir, 'events.db'), backup);
    store = openSqliteStoreInDir(dir);
    await appendEvents(store, 4, 5);
    await store.close();
    await exported(dir);
    expect(existsSync(join(dir, 'events.db-wal'))).toBe(false);
    copyFileSync(backup, join(dir, 'events.db'));
    const audit = await runCli(['verify', '--data', dir, '--key', join(dir, 'transparency.pub')]);
    expect(audit.code).toBe(1);
    expect(audit.err).toMatch(/TAMPERED: deleted at position 6: logged event \S+ at position 6 is missing from the store/);
    expect(audit.err).toContain('or events.db restored from an older backup (README, restoring events.db, step 4)');
  }, 60_000);

  it('says no restore where an event is missing from the middle', async () => {
    const dir = dirs.make();
    const store = openSqliteStoreInDir(dir);
    await appendEvents(store, 5);
    await store.close();
    openTransparencyInDir(dir).log.close();
    await exported(dir);
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(dir, 'events.db'));
    db.prepare('DELETE FROM events WHERE position = 3').run();
    db.close();
    const audit = await runCli(['verify', '--data', dir, '--key', join(dir, 'transparency.pub')]);
    expect(audit.code).toBe(1);
    expect(audit.err).toMatch(/TAMPERED: deleted at position 3/);
    expect(audit.err).not.toContain('older backup');
  }, 60_000);
});
