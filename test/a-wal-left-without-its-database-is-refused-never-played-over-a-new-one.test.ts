import Database from 'better-sqlite3';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openAccessRegistry } from '../adapters/driven/access/sqlite-access-registry.ts';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/sqlite-key-registry.ts';
import { isCredenceError } from '../domain/errors.ts';
import { leaveWalAlone, refusalOf } from './support/left-wal.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-left-wal-');

/**
 * Review 71: a missing access.db or keys.db is now made whole (with pages), so a -wal left beside it (the file moved
 * aside alone) would be played over the new file by SQLite, bringing back the tokens' signing keys an operator meant
 * to drop. Before, the new file was empty and SQLite deleted the -wal. Such a leftover is now refused, naming it, and
 * nothing is made.
 */
describe('a -wal left without its database', () => {
  for (const [file, open] of [
    ['access.db', (dir: string) => openAccessRegistry({ dir }).close()],
    ['keys.db', (dir: string) => SqliteKeyRegistry.open({ dir }).close()],
  ] as const) {
    it(`is refused at ${file}'s first open as damaged, naming the leftover and what to move, and nothing is made`, () => {
      const dir = folder();
      leaveWalAlone(file, dir, folder(), 'signing_keys');
      const error = refusalOf(() => open(dir));
      expect(isCredenceError(error, 'damaged_database')).toBe(true);
      expect((error as Error).message).toContain(`${file}-wal without ${file} itself`);
      expect((error as Error).message).toContain(`move ${file}-wal aside too`);
      expect(existsSync(join(dir, file))).toBe(false);
      expect(existsSync(join(dir, `${file}-wal`))).toBe(true);
    });
  }

  it('once moved aside too, lets the file be made new, holding none of its rows', () => {
    const dir = folder();
    leaveWalAlone('access.db', dir, folder(), 'signing_keys');
    rmSync(join(dir, 'access.db-wal'));
    openAccessRegistry({ dir }).close();
    const db = new Database(join(dir, 'access.db'), { readonly: true });
    expect(db.prepare('SELECT handle FROM signing_keys').all()).toEqual([]);
    db.close();
  });

  it('is no bar when it holds nothing to play back: the empty -wal a read-only close leaves (review 72)', () => {
    const dir = folder();
    writeFileSync(join(dir, 'access.db-wal'), '');
    openAccessRegistry({ dir }).close();
    expect(existsSync(join(dir, 'access.db'))).toBe(true);
  });
});
