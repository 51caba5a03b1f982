import { cpSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { lockDataFolder } from '../adapters/runtime/index.ts';
import { runCli } from './support/cli.ts';
import { folderSnapshot } from './support/served-folder.ts';
import { backedUpPseudonymFolder } from './support/pseudonym-backup.ts';
import { startTestService, type TestService } from './support/service.ts';
import { currentPseudonym, eventually, rotateByHand } from './support/pseudonym-epochs.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import type { NodeEpoch } from '../projections/pseudonyms/epoch-marks.ts';

/*
 * Review 149 follow-up: after a whole-folder restore, keys.db is the backup's, so the epochs each node's pseudonym was
 * given out at since are gone with it, and the next rotation of a node rotated since gives out once more a pseudonym
 * observers saw (SER-011). README step 7 carried them over from the folder moved aside with a hand-written sqlite3
 * command; `credence pseudonym raise-marks-since-backup` does it, reading that folder only, never lowering a mark, and
 * refusing, with nothing written, what it cannot trust.
 */
const folder = temporaryFolders('credence-raise-marks-');

const withRegistry = <T>(dir: string, use: (registry: SqliteKeyRegistry) => T): T => {
  const registry = SqliteKeyRegistry.open({ dir });
  try {
    return use(registry);
  } finally {
    registry.close();
  }
};

const marksOf = (dir: string): NodeEpoch[] => withRegistry(dir, (r) => r.epochMarks());

/** A data folder whose keys.db holds `marks` (and nothing else a service would make). */
const folderWithMarks = (marks: readonly NodeEpoch[]): string => {
  const dir = join(folder(), 'data');
  withRegistry(dir, (r) => r.raiseEpochMarks(marks));
  return dir;
};

const raise = (data: string, aside: string, ...more: string[]) =>
  runCli(['pseudonym', 'raise-marks-since-backup', '--data', data, '--before-restore', aside, ...more]);

const current = (svc: TestService) => currentPseudonym(svc);

describe('a whole-folder restore from a backup older than a pseudonym rotation', () => {
  it('gives the lost pseudonym out again at the next rotation without the command, and never with it', async () => {
    const scene = await backedUpPseudonymFolder(folder());
    const { data, backup, aside, clock } = scene;
    let svc = scene.svc;
    const given = [scene.first];
    const lost = await rotateByHand(svc);
    given.push(lost);
    await svc.close();
    renameSync(data, aside);

    // Without the command: the next rotation hands out the pseudonym the restore lost.
    cpSync(backup, data, { recursive: true });
    svc = await startTestService({ dir: data, clock });
    try {
      expect(current(svc)?.epoch).toBe(0);
      expect(await rotateByHand(svc)).toBe(lost);
    } finally {
      await svc.close();
    }

    // With it: the start rotates past the epoch given out, and the next rotation gives out one never seen.
    rmSync(data, { recursive: true });
    cpSync(backup, data, { recursive: true });
    const asideBefore = folderSnapshot(aside);
    const run = await raise(data, aside);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain('raised the pseudonym epoch of 1 node(s)');
    // Counts only: neither a node nor a pseudonym.
    for (const word of ['meter-1', ...given]) expect(run.out + run.err).not.toContain(word);
    expect(folderSnapshot(aside)).toEqual(asideBefore);
    svc = await startTestService({ dir: data, clock });
    try {
      expect(await eventually(() => current(svc)!.epoch! > 1)).toBe(true);
      expect(given).not.toContain(current(svc)!.pseudonym);
      given.push(current(svc)!.pseudonym!);
      expect(given).not.toContain(await rotateByHand(svc));
    } finally {
      await svc.close();
    }
  }, 120_000);
});

describe('credence pseudonym raise-marks-since-backup', () => {
  it('raises each mark behind the one the folder moved aside kept, never lowers one, and says how many', async () => {
    const data = folderWithMarks([
      { nodeId: 'meter-a', epoch: 5 },
      { nodeId: 'meter-b', epoch: 1 },
    ]);
    const aside = folderWithMarks([
      { nodeId: 'meter-a', epoch: 3 },
      { nodeId: 'meter-b', epoch: 4 },
      { nodeId: 'meter-c', epoch: 2 },
    ]);
    const run = await raise(data, aside, '--json');
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out)).toEqual({ keptMarks: true, marks: 3, raised: 2 });
    expect(marksOf(data)).toEqual([
      { nodeId: 'meter-a', epoch: 5 },
      { nodeId: 'meter-b', epoch: 4 },
      { nodeId: 'meter-c', epoch: 2 },
    ]);
    const again = await raise(data, aside);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('nothing raised');
  });

  it('says plainly that a folder moved aside by an earlier version kept no marks, exit 0, nothing written', async () => {
    const data = folderWithMarks([{ nodeId: 'meter-a', epoch: 1 }]);
    const aside = folderWithMarks([]);
    const db = new Database(join(aside, 'keys.db'));
    db.exec('DROP TABLE pseudonym_epoch_marks');
    db.close();
    const before = [folderSnapshot(data), folderSnapshot(aside)];
    const run = await raise(data, aside);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain('keeps no pseudonym epochs');
    expect([folderSnapshot(data), folderSnapshot(aside)]).toEqual(before);
  });

  const refused: [string, (keysDb: string) => void, string][] = [
    [
      'another SQLite database',
      (path) => {
        rmSync(path);
        const db = new Database(path);
        db.exec('CREATE TABLE pseudonym_epoch_marks (node_id TEXT, epoch INTEGER); INSERT INTO pseudonym_epoch_marks VALUES (\'meter-a\', 9)');
        db.close();
      },
      'key_registry',
    ],
    [
      'a keys.db of a newer version',
      (path) => {
        const db = new Database(path);
        db.pragma('user_version = 3');
        db.close();
      },
      'newer than this build supports',
    ],
    [
      'a keys.db with a mark no version writes',
      (path) => {
        const db = new Database(path);
        db.exec("INSERT INTO pseudonym_epoch_marks VALUES ('meter-b', -1)");
        db.close();
      },
      'key_registry',
    ],
    ['a file that is no database', (path) => writeFileSync(path, 'not a database, but long enough to be read as a header '.repeat(4)), 'damaged'],
  ];
  for (const [what, make, rule] of refused) {
    it(`refuses ${what} in the folder moved aside, naming it, exit 1, nothing written to either folder`, async () => {
      const data = folderWithMarks([{ nodeId: 'meter-a', epoch: 1 }]);
      const aside = folderWithMarks([{ nodeId: 'meter-a', epoch: 7 }]);
      make(join(aside, 'keys.db'));
      const before = [folderSnapshot(data), folderSnapshot(aside)];
      const run = await raise(data, aside);
      expect(run.code, run.out).toBe(1);
      expect(run.err).toContain(join(aside, 'keys.db'));
      expect(run.err).toContain(rule);
      expect([folderSnapshot(data), folderSnapshot(aside)]).toEqual(before);
    });
  }

  it('refuses a --before-restore that is the restored folder itself, or holds no keys.db, as bad usage (exit 2), nothing written', async () => {
    const data = folderWithMarks([{ nodeId: 'meter-a', epoch: 1 }]);
    const empty = folder();
    const before = folderSnapshot(data);
    const same = await raise(data, data);
    expect(same.code).toBe(2);
    expect(same.err).toContain('is the restored folder itself');
    const none = await raise(data, empty);
    expect(none.code).toBe(2);
    expect(none.err).toContain('holds no keys.db');
    expect(folderSnapshot(data)).toEqual(before);
  });

  it('refuses while the service runs (the folder lock held elsewhere), exit 1, raising nothing', async () => {
    const data = folderWithMarks([{ nodeId: 'meter-a', epoch: 1 }]);
    const aside = folderWithMarks([{ nodeId: 'meter-a', epoch: 7 }]);
    const lock = lockDataFolder(data, {});
    try {
      const before = folderSnapshot(data);
      const run = await raise(data, aside);
      expect(run.code, run.out).toBe(1);
      expect(run.err).toContain('is in use by');
      expect(folderSnapshot(data)).toEqual(before);
    } finally {
      lock.release();
    }
    expect(marksOf(data)).toEqual([{ nodeId: 'meter-a', epoch: 1 }]);
  });
});

describe('the key registry', () => {
  it('reads the marks of another folder without writing it, and counts the marks a raise raised', () => {
    const aside = folderWithMarks([{ nodeId: 'meter-a', epoch: 3 }]);
    const before = folderSnapshot(aside);
    expect(SqliteKeyRegistry.readEpochMarks(join(aside, 'keys.db'))).toEqual([{ nodeId: 'meter-a', epoch: 3 }]);
    expect(folderSnapshot(aside)).toEqual(before);
    withRegistry(aside, (r) => {
      expect(r.raiseEpochMarks([{ nodeId: 'meter-a', epoch: 3 }, { nodeId: 'meter-b', epoch: 0 }])).toBe(1);
      expect(r.raiseEpochMarks([{ nodeId: 'meter-a', epoch: 4 }, { nodeId: 'meter-b', epoch: 0 }])).toBe(1);
      expect(r.raiseEpochMarks([])).toBe(0);
    });
  });
});
