import { copyFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { runCli } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { folderSnapshot, servedFolderWith } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 264 #3: another fleet's events.db restored by mistake into a data folder (its keys.db, transparency.db, read
 * models and pki files this folder's) was served: the read models rebuilt "of another log", the transparency log
 * stopped, and the pseudonym component named keys.db as the foreign file. The folder now remembers its log's first
 * event (first-event.json), and a start on an events.db whose first event is another is refused before anything is
 * written, naming events.db. An old backup of the same fleet has the same first event and still starts; a folder from
 * before the change, remembering none, adopts its events.db's first event.
 */
const scratch = temporaryFolders('credence-another-fleets-events-db-');

/** README "Restoring the event store from a backup", steps 1 and 2: events.db and its -wal/-shm aside, `backup` in place. */
const restoreEventsDb = (dir: string, backup: string): void => {
  const aside = scratch();
  for (const name of readdirSync(dir).filter((n) => n.startsWith('events.db'))) renameSync(join(dir, name), join(aside, name));
  copyFileSync(backup, join(dir, 'events.db'));
};

/** A copy of a stopped folder's events.db (a clean stop leaves no -wal): a backup of it. */
const backupOf = (dir: string): string => {
  const backup = join(scratch(), 'events.db');
  copyFileSync(join(dir, 'events.db'), backup);
  return backup;
};

const clock = new FakeClock(new Date('2026-01-01T00:00:00.000Z'));

/** The refusal, its path the setting that names the folder (`location.dir` for a program, `data` for serve). */
const refusal = (path: string) =>
  expect.objectContaining({ problem: expect.objectContaining({ issues: [expect.objectContaining({ path, rule: 'event_store_of_another_folder' })] }) });
const RULE = refusal('location.dir');

describe("another fleet's events.db restored into a data folder", () => {
  it('is refused by serve and by openCredence, naming events.db and what to do; nothing is written to the folder', async () => {
    const ours = scratch();
    const theirs = scratch();
    await servedFolderWith(ours, ['meter-1', 'meter-2']);
    await servedFolderWith(theirs, ['meter-1', 'meter-9']);
    restoreEventsDb(ours, backupOf(theirs));
    const before = folderSnapshot(ours);

    await expect(startTestService({ dir: ours })).rejects.toThrow(refusal('data'));
    expect(folderSnapshot(ours)).toEqual(before);

    const served = await runCli(['serve', '--data', ours, '--port', '0', '--log-level', 'silent']);
    expect(served.code).not.toBe(0);
    expect(served.err).toContain(`${join(ours, 'events.db')} is another data folder's event store`);
    expect(served.err).toMatch(/Restoring the event store from a backup/);
    expect(served.err).not.toMatch(/keys\.db[^,;]* is another/);
    expect(folderSnapshot(ours)).toEqual(before);

    expect(() => openCredence({ location: { dir: ours }, clock })).toThrow(RULE);
    expect(folderSnapshot(ours)).toEqual(before);
  }, 120_000);

  it('an events.db that holds no event, in a folder that remembers its first event, is refused as empty', async () => {
    const ours = scratch();
    await servedFolderWith(ours, ['meter-1']);
    // Its log and read models moved aside too: the remembered first event is the one sign left of the events.
    for (const name of readdirSync(ours).filter((n) => /^(events|transparency|readmodels)\./.test(n))) rmSync(join(ours, name));
    await openSqliteStoreInDir(ours).close();
    const before = folderSnapshot(ours);

    expect(() => openCredence({ location: { dir: ours }, clock })).toThrow(/events\.db holds no event[\s\S]*first-event\.json/);
    expect(folderSnapshot(ours)).toEqual(before);
  }, 120_000);
});

describe("the folder's own events.db", () => {
  it('an old backup of the same fleet still starts (README, "Restoring the event store from a backup")', async () => {
    const ours = scratch();
    await servedFolderWith(ours, ['meter-1']);
    const backup = backupOf(ours);
    const svc = await startTestService({ dir: ours });
    await svc.service.context.credence.engine.execute(cmd.registerNode('meter-2'));
    await svc.close();
    restoreEventsDb(ours, backup);

    const restarted = await startTestService({ dir: ours });
    await restarted.close();
  }, 120_000);

  it('a folder from before the change (no first-event.json) adopts its first event, and is held to it after', async () => {
    const ours = scratch();
    const theirs = scratch();
    await servedFolderWith(ours, ['meter-1']);
    await servedFolderWith(theirs, ['meter-9']);
    const remembered = join(ours, 'first-event.json');
    expect(existsSync(remembered)).toBe(true);
    const first = readFileSync(remembered, 'utf8');
    rmSync(remembered);

    const adopted = await startTestService({ dir: ours });
    await adopted.close();
    expect(readFileSync(remembered, 'utf8')).toBe(first);
    if (process.platform !== 'win32') expect(statSync(remembered).mode & 0o777).toBe(0o600);

    restoreEventsDb(ours, backupOf(theirs));
    expect(() => openCredence({ location: { dir: ours }, clock })).toThrow(RULE);
  }, 120_000);

  it("a folder from before the change given another fleet's events.db does not adopt it: its transparency log began with its own", async () => {
    const ours = scratch();
    const theirs = scratch();
    await servedFolderWith(ours, ['meter-1']);
    await servedFolderWith(theirs, ['meter-9']);
    const remembered = join(ours, 'first-event.json');
    const first = readFileSync(remembered, 'utf8');
    rmSync(remembered);
    const own = backupOf(ours);
    restoreEventsDb(ours, backupOf(theirs));

    // Not refused (it remembers nothing), nor adopted: the folder's own events.db, put back, is not refused after.
    await (await startTestService({ dir: ours })).close();
    expect(existsSync(remembered)).toBe(false);
    restoreEventsDb(ours, own);
    await (await startTestService({ dir: ours })).close();
    expect(readFileSync(remembered, 'utf8')).toBe(first);
  }, 120_000);
});
