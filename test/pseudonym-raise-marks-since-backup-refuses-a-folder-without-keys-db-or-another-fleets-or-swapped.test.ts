import { chmodSync, cpSync, existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FakeClock } from '../adapters/driven/clock/index.ts';
import { KEY_REGISTRY_DB_FILE, SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { runCli } from './support/cli.ts';
import { backedUpPseudonymFolder } from './support/pseudonym-backup.ts';
import { currentPseudonym, eventually, rotateByHand } from './support/pseudonym-epochs.ts';
import { folderSnapshot } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 396: `credence pseudonym raise-marks-since-backup` opened the restored key registry with its own opener, which
 * makes keys.db in a used folder that lost it (or schema in an empty one), so `key list --unnamed` then called every
 * live key unnamed and `key destroy` destroyed them (the review-378 guard no longer saw the loss). It never checked
 * either that the two folders are copies of one fleet's registry, nor which is the later: swapped, it raised nothing
 * (exit 0) and wrote into the folder moved aside; another fleet's keys.db put foreign nodes' marks in the restored one.
 * Each is now refused, exit 1, naming the file or the option and the rule, nothing written to either folder.
 */
const folder = temporaryFolders('credence-raise-marks-refusals-');

const raise = (data: string, aside: string) => runCli(['pseudonym', 'raise-marks-since-backup', '--data', data, '--before-restore', aside]);

const marksIn = (dir: string) => SqliteKeyRegistry.readEpochMarks(join(dir, KEY_REGISTRY_DB_FILE));

/** A whole-folder restore of a backup older than meter-1's rotation, the service closed: `data` restored, `aside` the folder moved aside. */
const restoredAfterARotation = async (): Promise<{ data: string; aside: string; backup: string; clock: FakeClock }> => {
  const { data, backup, aside, svc, clock } = await backedUpPseudonymFolder(folder());
  try {
    await rotateByHand(svc);
  } finally {
    await svc.close();
  }
  renameSync(data, aside);
  cpSync(backup, data, { recursive: true });
  return { data, aside, backup, clock };
};

const removeKeysDb = (dir: string): void => {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(join(dir, `${KEY_REGISTRY_DB_FILE}${suffix}`), { force: true });
};

describe('credence pseudonym raise-marks-since-backup refuses, nothing written to either folder', () => {
  it('a restored folder the service used whose keys.db is missing: naming keys.db and its restore, making none', async () => {
    const { data, aside } = await restoredAfterARotation();
    removeKeysDb(data);
    const before = [folderSnapshot(data), folderSnapshot(aside)];

    const run = await raise(data, aside);

    expect(run.code, run.out).toBe(1);
    expect(run.err).toContain(`the database ${join(data, KEY_REGISTRY_DB_FILE)} is damaged`);
    expect(run.err).toContain('restore it from a backup of the data folder');
    expect(existsSync(join(data, KEY_REGISTRY_DB_FILE))).toBe(false);
    expect([folderSnapshot(data), folderSnapshot(aside)]).toEqual(before);
  }, 120_000);

  it('a restored keys.db that is empty, or lost its bindings table: naming it, leaving it as it was', async () => {
    const { data, aside } = await restoredAfterARotation();
    const keysDb = join(data, KEY_REGISTRY_DB_FILE);
    removeKeysDb(data);
    writeFileSync(keysDb, '', { mode: 0o600 });
    const before = [folderSnapshot(data), folderSnapshot(aside)];

    const empty = await raise(data, aside);

    expect(empty.code, empty.out).toBe(1);
    expect(empty.err).toContain(`the database ${keysDb} is damaged`);
    expect(statSync(keysDb).size).toBe(0);
    expect([folderSnapshot(data), folderSnapshot(aside)]).toEqual(before);

    // A keys.db of some other SQLite database (no se_key_handles table).
    rmSync(keysDb);
    cpSync(join(aside, 'events.db'), keysDb);
    const other = [folderSnapshot(data), folderSnapshot(aside)];
    const tableless = await raise(data, aside);
    expect(tableless.code, tableless.out).toBe(1);
    expect(tableless.err).toContain(`the database ${keysDb} is damaged`);
    expect([folderSnapshot(data), folderSnapshot(aside)]).toEqual(other);
  }, 120_000);

  it("another fleet's folder as --before-restore (another pseudonym key): same_key_registry, no foreign mark written", async () => {
    const { data } = await restoredAfterARotation();
    const { aside: foreign } = await restoredAfterARotation();
    const marks = [marksIn(data), marksIn(foreign)];
    const before = [folderSnapshot(data), folderSnapshot(foreign)];

    const run = await raise(data, foreign);

    expect(run.code, run.out).toBe(1);
    expect(run.err).toContain('--before-restore');
    expect(run.err).toContain('same_key_registry');
    expect([marksIn(data), marksIn(foreign)]).toEqual(marks);
    expect([folderSnapshot(data), folderSnapshot(foreign)]).toEqual(before);
  }, 180_000);

  it('the two folders swapped: later_than_backup, nothing written into the folder moved aside; the right way round raises', async () => {
    const { data, aside } = await restoredAfterARotation();
    const marks = [marksIn(data), marksIn(aside)];
    const before = [folderSnapshot(data), folderSnapshot(aside)];

    const swapped = await raise(aside, data);

    expect(swapped.code, swapped.out).toBe(1);
    expect(swapped.err).toContain('--before-restore');
    expect(swapped.err).toContain('later_than_backup');
    expect([marksIn(data), marksIn(aside)]).toEqual(marks);
    expect([folderSnapshot(data), folderSnapshot(aside)]).toEqual(before);

    const right = await raise(data, aside);
    expect(right.code, right.err).toBe(0);
    expect(right.out).toContain('raised the pseudonym epoch of 1 node(s)');
    expect(marksIn(data)).toEqual(marksIn(aside));
    const again = await raise(data, aside);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('nothing raised');
  }, 120_000);
  it('the backup moved into place, and the two folders named the wrong way round: later_than_backup, nothing written (review 404)', async () => {
    // `mv data data.before-restore; mv backup data`: the backup moved in keeps the inode change time of its copy, older
    // than the last change of the folder moved aside, which an inode-time rule took for the right way round (exit 0).
    const { data, backup, aside, svc } = await backedUpPseudonymFolder(folder());
    try {
      await rotateByHand(svc);
    } finally {
      await svc.close();
    }
    renameSync(data, aside);
    renameSync(backup, data);
    const marks = [marksIn(data), marksIn(aside)];
    const before = [folderSnapshot(data), folderSnapshot(aside)];

    const swapped = await raise(aside, data);

    expect(swapped.code, swapped.out).toBe(1);
    expect(swapped.err).toContain('later_than_backup');
    expect(swapped.err).toContain(join(aside, KEY_REGISTRY_DB_FILE));
    expect(swapped.err).toContain(join(data, KEY_REGISTRY_DB_FILE));
    expect([marksIn(data), marksIn(aside)]).toEqual(marks);
    expect([folderSnapshot(data), folderSnapshot(aside)]).toEqual(before);

    const right = await raise(data, aside);
    expect(right.code, right.err).toBe(0);
    expect(right.out).toContain('raised the pseudonym epoch of 1 node(s)');
  }, 120_000);

  it('a second restore of the same backup, the folders named the wrong way round after a right first one: later_than_backup, nothing written (review 412)', async () => {
    // The first restore's run recorded a time in the folder now moved aside; the restored backup's last raise is older:
    // a time alone took the swap for a run again.
    const { data, aside: firstAside, backup, clock } = await restoredAfterARotation();
    const first = await raise(data, firstAside);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toContain('raised the pseudonym epoch of 1 node(s)');
    const svc = await startTestService({ dir: data, clock });
    try {
      expect(await eventually(() => currentPseudonym(svc)!.epoch! > 1)).toBe(true);
    } finally {
      await svc.close();
    }
    const aside = `${data}.before-restore-2`;
    renameSync(data, aside);
    cpSync(backup, data, { recursive: true });
    const marks = [marksIn(data), marksIn(aside)];
    const before = [folderSnapshot(data), folderSnapshot(aside)];

    const swapped = await raise(aside, data);

    expect(swapped.code, swapped.out).toBe(1);
    expect(swapped.err).toContain('later_than_backup');
    expect(swapped.out).not.toContain('nothing raised');
    expect([marksIn(data), marksIn(aside)]).toEqual(marks);
    expect([folderSnapshot(data), folderSnapshot(aside)]).toEqual(before);

    const right = await raise(data, aside);
    expect(right.code, right.err).toBe(0);
    expect(right.out).toContain('raised the pseudonym epoch of 1 node(s)');
    expect(marksIn(data)).toEqual(marksIn(aside));
  }, 180_000);

  it('a backup taken after a run, before any rotation, restored with the folders named the wrong way round: later_than_backup, nothing written (review 412)', async () => {
    const { data, aside: firstAside, clock } = await restoredAfterARotation();
    expect((await raise(data, firstAside)).code).toBe(0);
    const again = await raise(data, firstAside);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('nothing raised');
    // Backed up once the marks were carried over, then the start rotates meter-1 past them.
    const backup = `${data}.backup-after-run`;
    cpSync(data, backup, { recursive: true });
    const svc = await startTestService({ dir: data, clock });
    try {
      expect(await eventually(() => currentPseudonym(svc)!.epoch! > 1)).toBe(true);
    } finally {
      await svc.close();
    }
    const aside = `${data}.before-restore-2`;
    renameSync(data, aside);
    cpSync(backup, data, { recursive: true });
    const marks = [marksIn(data), marksIn(aside)];
    const before = [folderSnapshot(data), folderSnapshot(aside)];

    const swapped = await raise(aside, data);

    expect(swapped.code, swapped.out).toBe(1);
    expect(swapped.err).toContain('later_than_backup');
    expect([marksIn(data), marksIn(aside)]).toEqual(marks);
    expect([folderSnapshot(data), folderSnapshot(aside)]).toEqual(before);

    const right = await raise(data, aside);
    expect(right.code, right.err).toBe(0);
    expect(right.out).toContain('raised the pseudonym epoch of 1 node(s)');
  }, 180_000);

  it('run again after a start of the restored folder and a chmod of the folder moved aside: accepted, nothing raised (review 404)', async () => {
    const { data, aside, clock } = await restoredAfterARotation();
    const first = await raise(data, aside);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toContain('raised the pseudonym epoch of 1 node(s)');
    // The start rotates meter-1 past the mark carried over: the restored folder is now ahead of the one moved aside.
    const svc = await startTestService({ dir: data, clock });
    try {
      expect(await eventually(() => currentPseudonym(svc)!.epoch! > 1)).toBe(true);
    } finally {
      await svc.close();
    }
    // A metadata change only (its inode change time moves, its content does not).
    chmodSync(join(aside, KEY_REGISTRY_DB_FILE), 0o600);
    const marks = [marksIn(data), marksIn(aside)];

    const again = await raise(data, aside);

    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('nothing raised');
    expect([marksIn(data), marksIn(aside)]).toEqual(marks);
  }, 120_000);
});
