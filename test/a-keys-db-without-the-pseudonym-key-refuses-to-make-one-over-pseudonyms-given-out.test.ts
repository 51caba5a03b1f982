/**
 * Review 208 finding 2 (SER-011, SER-025): a keys.db without the pseudonym PRF key (deleted, or put back from a backup
 * older than the key) got a new key at the next start, silently, while the log held the rotations of the old one: the
 * public stream then named every node by values no rotation recorded, and resolving them answered 404. Now a start
 * over pseudonyms given out is refused, naming keys.db and the remedy, nothing written; a keys.db (or Secure
 * Environment) of another folder is refused at the key's first use, its key deriving none of the log's pseudonyms; and a
 * fresh folder still makes its key.
 */
import Database from 'better-sqlite3';
import { copyFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openCredence, openDataFolderSecureEnvironment, openSecureEnvironmentLogKey, systemClock, systemRandom, type OpenOptions } from '../adapters/runtime/index.ts';
import { ownerView, type EventStore } from '../domain/ports/index.ts';
import { cmd, operator, rejection } from './support/fleet.ts';
import { servedFolder } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-prf-key-not-recorded-');

const prfRows = (dir: string): number => {
  const db = new Database(join(dir, 'keys.db'), { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM se_key_handles WHERE purpose = 'pseudonym-prf'").get() as { n: number }).n;
  } finally {
    db.close();
  }
};

const deletePrfRow = (dir: string): void => {
  const db = new Database(join(dir, 'keys.db'));
  db.prepare("DELETE FROM se_key_handles WHERE purpose = 'pseudonym-prf'").run();
  db.close();
};

const eventCount = (dir: string): number => {
  const db = new Database(join(dir, 'events.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

const expectNotRecorded = (error: unknown) => {
  expect(error).toMatchObject({ problem: { code: 'secure_environment_unavailable', reason: 'pseudonym_prf_key_not_recorded' } });
  const { message } = (error as { problem: { message: string } }).problem;
  expect(message).toContain('keys.db records no pseudonym PRF key');
  expect(message).toContain('Restoring a whole data folder');
  expect(message).toMatch(/No new key is made/);
};


/** How a program opens a served folder: its embedded Secure Environment, and the log key held there. */
const opened = async (dir: string, more: Partial<OpenOptions> = {}) => {
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
  const logKey = await openSecureEnvironmentLogKey(dir, se);
  const c = openCredence({
    location: { dir }, clock: systemClock, security: { se, random: systemRandom, actor: operator },
    ...(logKey.place === 'hsm' ? { transparencySigner: logKey.signer } : {}), ...more,
  });
  return { se, c };
};

const startRefused = async (dir: string): Promise<unknown> => {
  try {
    const svc = await startTestService({ dir });
    await svc.close();
  } catch (error) {
    return error;
  }
  throw new Error('the start was not refused');
};

describe('a keys.db without the pseudonym PRF key', () => {
  it('refuses a start when only its pseudonym-prf row is gone (a keys.db older than the key), nothing written; with its keys.db back the folder starts as before', async () => {
    const { dir, pseudonym } = await servedFolder(folder());
    copyFileSync(join(dir, 'keys.db'), join(dir, 'keys.db.good'));
    deletePrfRow(dir);
    const events = eventCount(dir);

    expectNotRecorded(await startRefused(dir));
    expect(prfRows(dir)).toBe(0);
    expect(eventCount(dir)).toBe(events);

    copyFileSync(join(dir, 'keys.db.good'), join(dir, 'keys.db'));
    const svc = await startTestService({ dir });
    try {
      expect(await svc.service.context.credence.pseudonyms!.deriver.node('meter-1', 0)).toBe(pseudonym);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('refuses a start when keys.db is deleted', async () => {
    const { dir } = await servedFolder(folder());
    for (const file of readdirSync(dir).filter((f) => f.startsWith('keys.db'))) rmSync(join(dir, file));
    const events = eventCount(dir);
    expectNotRecorded(await startRefused(dir));
    expect(eventCount(dir)).toBe(events);
  }, 60_000);
});

describe('over a store read over the network (no synchronous reads)', () => {
  it('is refused at open by the pseudonym directory; with the read models deleted too it opens, and refuses to make a key at its first use: no rotation of the rebuild is derived with a new key', async () => {
    const { dir } = await servedFolder(folder());
    deletePrfRow(dir);
    const local = openSqliteStoreInDir(dir);
    // EventStoreDB's adapter has no readAllPagesSync.
    const remote = new Proxy(local, {
      get: (target, p) => (p === 'readAllPagesSync' ? undefined : typeof Reflect.get(target, p) === 'function' ? Reflect.get(target, p).bind(target) : Reflect.get(target, p)),
    }) as EventStore;
    // With its read models, the pseudonym directory says it at open.
    const withDirectory = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    const logKey = await openSecureEnvironmentLogKey(dir, withDirectory);
    let refused: unknown;
    try {
      openCredence({ location: { dir }, store: remote, clock: systemClock, security: { se: withDirectory, random: systemRandom, actor: operator }, ...(logKey.place === 'hsm' ? { transparencySigner: logKey.signer } : {}) });
    } catch (error) {
      refused = error;
    } finally {
      withDirectory.close();
    }
    expectNotRecorded(refused);
    for (const file of readdirSync(dir).filter((f) => f.startsWith('readmodels.db'))) rmSync(join(dir, file));
    const { se, c } = await opened(dir, { store: remote });
    try {
      expectNotRecorded(await rejection(c.pseudonyms!.deriver.node('meter-1', 1)));
      expectNotRecorded(await rejection(c.settle()));
      expect(prfRows(dir)).toBe(0);
    } finally {
      await c.close();
      await local.close();
      se.close();
    }
  }, 60_000);
});

describe('a keys.db or a token of another folder', () => {
  it("is refused at the first use of its key, which derives none of the log's pseudonyms", async () => {
    const { dir } = await servedFolder(folder());
    // Given keys.db binding, as the pseudonym PRF key, a key the Secure Environment holds that derived none of the log's
    // pseudonyms (another folder's keys.db over the token it was made on)
    const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    const another = await ownerView(se, 'maf:infrastructure').generate('psk256');
    se.close();
    const db = new Database(join(dir, 'keys.db'));
    db.prepare("UPDATE se_key_handles SET handle = ? WHERE purpose = 'pseudonym-prf'").run(another);
    db.close();
    const { se: opened_, c } = await opened(dir);
    try {
      const error = await rejection(c.pseudonyms!.deriver.node('meter-1', 1));
      expect(error).toMatchObject({ problem: { code: 'secure_environment_unavailable', reason: 'pseudonym_prf_key_of_another_folder' } });
      expect(error.problem.message).toContain('Restoring a whole data folder');
      expect(error.problem.message).not.toContain('meter-1');
    } finally {
      await c.close();
      opened_.close();
    }
  }, 60_000);
});

describe('a fresh folder', () => {
  it('makes its key at first use, as before', async () => {
    const { se, c } = await opened(folder());
    try {
      await c.engine.execute(cmd.registerNode('meter-1'));
      await c.settle();
      expect(c.keyRegistry!.live('infrastructure', 'pseudonym-prf')).toHaveLength(1);
    } finally {
      await c.close();
      se.close();
    }
  }, 60_000);
});
