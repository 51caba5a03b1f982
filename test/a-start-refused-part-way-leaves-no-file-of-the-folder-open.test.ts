import Database from 'better-sqlite3';
import { copyFileSync, existsSync, readdirSync, readlinkSync, statSync, truncateSync } from 'node:fs';
import { join, sep } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openCredence, type OpenOptions } from '../adapters/runtime/index.ts';
import { toBase64url } from '../domain/crypto/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A start refused part way (a keys.db of another program, a damaged readmodels.db, a bad option) threw with the files
 * opened before the refusal still open: events.db, transparency.db, readmodels.db. The CLI exits, but a program that
 * catches the refusal and tries again (or a test) kept those connections and their WALs for as long as it ran. What
 * the start opened is now closed before the refusal reaches the caller, and the refusal is the one thrown.
 */
const scratch = temporaryFolders('credence-refused-start-');
const KEK = toBase64url(new Uint8Array(32).fill(7));
const PROC_FDS = '/proc/self/fd';

/** The files of `dir` this process holds open (Linux: /proc/self/fd; tests run in worker threads of one process). */
const heldOpenIn = (dir: string): string[] =>
  readdirSync(PROC_FDS).flatMap((fd) => {
    try {
      const target = readlinkSync(join(PROC_FDS, fd));
      return target.startsWith(dir + sep) ? [target] : [];
    } catch {
      return []; // closed between the listing and the read
    }
  });

/** A Secure Environment kept outside the data folder, so that what it holds open is not counted as the folder's. */
const secureEnvironment = (clock: FakeClock) => {
  const random = seededRandom('refused-start');
  const se = EmbeddedSecureEnvironment.open({ database: join(scratch(), 'se.sqlite'), kek: { source: 'inline', key: KEK } }, { now: () => clock.now(), random });
  return { se, random };
};

/** A data folder a start with security has run on and closed: events, read models, a transparency log and keys.db. */
const startedFolder = async (): Promise<{ dir: string; options: OpenOptions; close: () => void }> => {
  const dir = scratch();
  const clock = new FakeClock(T0);
  const { se, random } = secureEnvironment(clock);
  const options: OpenOptions = { location: { dir }, clock, security: { se, random, actor: operator } };
  const credence = openCredence(options);
  await credence.security();
  await credence.engine.execute(cmd.registerNode('meter-1'));
  await credence.settle();
  await credence.close();
  return { dir, options, close: () => se.close() };
};

/** The refusal openCredence throws (synchronously), once what it closes has had a turn of the event loop. */
const refusal = async (options: OpenOptions): Promise<unknown> => {
  let refused: unknown;
  try {
    openCredence(options);
  } catch (error) {
    refused = error;
  }
  expect(refused, 'the start is refused').toBeDefined();
  // The event store's close resolves on a later turn (it waits for its checkpoint thread, if one started).
  await nextTurn();
  return refused;
};

describe.runIf(existsSync(PROC_FDS))('a start refused part way leaves no file of the data folder open', () => {
  it('closes events.db, transparency.db and readmodels.db when keys.db is refused, and a start once it is fixed opens in the same process', async () => {
    // Given a folder whose keys.db was replaced by another program's database (a wrong restore), its own kept aside
    const { dir, options, close } = await startedFolder();
    try {
      const keys = join(dir, 'keys.db');
      copyFileSync(keys, join(dir, 'keys.db.good'));
      const foreign = new Database(keys);
      foreign.exec('DROP TABLE se_key_handles; DROP TABLE se_key_destroy_failures; CREATE TABLE tokens (id TEXT); PRAGMA user_version = 0');
      foreign.close();

      // When it is opened in this process
      const refused = await refusal(options);

      // Then the refusal is the key registry's, and nothing of the folder is held open: the files opened before it are
      // closed as a close leaves them, their WALs folded in and removed
      expect(isCredenceError(refused, 'damaged_database'), String(refused)).toBe(true);
      expect(String(refused)).toContain(keys);
      expect(heldOpenIn(dir)).toEqual([]);
      for (const file of ['events.db', 'transparency.db', 'readmodels.db']) expect(existsSync(join(dir, `${file}-wal`)), file).toBe(false);

      // And once keys.db is put back, the same process opens the folder and reads what it held
      copyFileSync(join(dir, 'keys.db.good'), keys);
      const reopened = openCredence(options);
      try {
        await reopened.security();
        expect(await reopened.store.headPosition()).toBeDefined();
      } finally {
        await reopened.close();
      }
      expect(heldOpenIn(dir)).toEqual([]);
    } finally {
      close();
    }
  });

  it('closes events.db and transparency.db when readmodels.db is found damaged', async () => {
    const { dir, options, close } = await startedFolder();
    try {
      const readModels = join(dir, 'readmodels.db');
      truncateSync(readModels, Math.floor(statSync(readModels).size / 2));
      const refused = await refusal(options);
      expect(isCredenceError(refused, 'damaged_database'), String(refused)).toBe(true);
      expect(heldOpenIn(dir)).toEqual([]);
    } finally {
      close();
    }
  });

  it('closes every file it opened when a later step refuses an option (the entity cache bound)', async () => {
    const { dir, options, close } = await startedFolder();
    try {
      const refused = await refusal({ ...options, entityCacheMaxBytes: -1 });
      expect(String(refused)).toMatch(/cacheMaxBytes/);
      expect(heldOpenIn(dir)).toEqual([]);
    } finally {
      close();
    }
  });

  it('leaves open a store the caller passed in: it is the caller to close', async () => {
    const { dir, options, close } = await startedFolder();
    const store = openSqliteStoreInDir(dir);
    try {
      await refusal({ ...options, store, entityCacheMaxBytes: -1 });
      expect(await store.headPosition()).toBeDefined();
    } finally {
      await store.close();
      close();
    }
    expect(heldOpenIn(dir)).toEqual([]);
  });
});
