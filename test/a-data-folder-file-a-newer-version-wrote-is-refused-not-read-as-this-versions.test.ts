import { createHash } from 'node:crypto';
import { cpSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Review 81, finding 4: a data folder file of a newer schema was handled unevenly. `key list` read a keys.db of
 * user_version 99 as this version's (and `key destroy` would act on what it read there), though a newer access.db is
 * refused; `verify --data` said "ok" on an events.db of version 99, which `history` refuses; a transparency.db of
 * version 99 was told to "open it once with the service of this version", which refuses it too.
 */
const folders = tempDirs('credence-newer-file-');
let stopped: string;

beforeAll(async () => {
  stopped = join(folders.make(), 'stopped');
  const svc = await startTestService({ dir: stopped });
  await svc.service.context.credence.engine.execute(cmd.registerNode('meter-1'));
  await svc.close();
  return folders.cleanup;
}, 60_000);

const credence = async (argv: readonly string[]): Promise<{ code: number; said: string }> => {
  const { io, out, err } = capture();
  const code = await main([...argv], { ...io, env: {} });
  return { code, said: [...out, ...err].join('\n') };
};

const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => {
        const stat = lstatSync(join(dir, name));
        return [name, `${stat.size} ${stat.mode.toString(8)} ${stat.mtimeMs} ${createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')}`];
      }),
  );

/** A copy of the stopped folder whose `file` a newer version wrote (`change` first, then user_version 99). */
const copyWithNewer = (file: string, change?: (db: Database.Database) => void): string => {
  const copy = join(folders.make(), 'copy');
  cpSync(stopped, copy, { recursive: true, preserveTimestamps: true });
  const db = new Database(join(copy, file));
  change?.(db);
  db.pragma('user_version = 99');
  db.close();
  return copy;
};

/** The infrastructure key keys.db binds (the only record that names it in a folder without a CA). */
const boundKey = (dir: string): string => {
  // Read-write, so that its close removes the -wal and -shm a read makes (a read-only one leaves them).
  const db = new Database(join(dir, 'keys.db'), { fileMustExist: true });
  try {
    return db.prepare('SELECT handle FROM se_key_handles WHERE destroyed_at IS NULL').pluck().get() as string;
  } finally {
    db.close();
  }
};

describe('a keys.db a newer version wrote', () => {
  it('is refused by key list (exit 1, schema_version, naming it), not read as this version lays it out', async () => {
    const copy = copyWithNewer('keys.db');
    const before = snapshot(copy);
    const run = await credence(['key', 'list', '--data', copy]);
    expect(run.code, run.said).toBe(1);
    expect(run.said).toContain(`${join(copy, 'keys.db')}: schema version 99, newer than 2`);
    expect(run.said).toContain('a newer version of Credence wrote it');
    expect(snapshot(copy)).toEqual(before);
  });

  it('keeps key destroy from destroying a key it binds where this version does not look, and writes nothing', async () => {
    // A layout this version does not know: the binding kept in another table, the old one left empty.
    let handle = '';
    const copy = copyWithNewer('keys.db', (db) => {
      handle = db.prepare('SELECT handle FROM se_key_handles').pluck().get() as string;
      db.exec('CREATE TABLE se_key_bindings AS SELECT * FROM se_key_handles; DELETE FROM se_key_handles');
    });
    expect(handle).toMatch(/^key_/);
    const before = snapshot(copy);
    const run = await credence(['key', 'destroy', '--owner', 'maf:infrastructure', '--handle', handle, '--data', copy]);
    expect(run.code, run.said).toBe(1);
    expect(run.said).toContain('schema version 99');
    // The Secure Environment's file among them: the key is still there.
    expect(snapshot(copy)).toEqual(before);
  });

  it('of this version is still read: its binding names the key', async () => {
    const run = await credence(['key', 'list', '--data', stopped]);
    expect(run.code, run.said).toBe(0);
    expect(run.said).toContain(`${boundKey(stopped)} maf:infrastructure`);
    expect(run.said).toContain('named by key_registry_key_in_use');
  });
});

describe('verify --data on a folder a newer version wrote', () => {
  it('refuses an events.db of a newer schema as history does, naming it (exit 2), and writes nothing', async () => {
    const copy = copyWithNewer('events.db');
    // history's refusal: typed, naming the file and the rule (it was an untyped error thrown past main).
    const history = await credence(['history', 'node-meter-1', '--data', copy]);
    expect(history.code).toBe(1);
    expect(history.said).toContain(`${join(copy, 'events.db')}: event store file has schema version 99, newer than this build supports (1): a newer version of Credence wrote it`);
    const before = snapshot(copy);
    const run = await credence(['verify', '--data', copy]);
    expect(run.code, run.said).toBe(2);
    expect(run.said).toContain(`${join(copy, 'events.db')}: event store file has schema version 99, newer than this build supports (1)`);
    expect(run.said).toContain('a newer version of Credence wrote it');
    expect(run.said).not.toMatch(/^ok:/m);
    expect(snapshot(copy)).toEqual(before);
  });

  it('says a transparency.db of a newer schema was written by a newer version, not to open it with this one (exit 2)', async () => {
    const copy = copyWithNewer('transparency.db');
    const before = snapshot(copy);
    const run = await credence(['verify', '--data', copy]);
    expect(run.code, run.said).toBe(2);
    expect(run.said).toContain('transparency log file has schema version 99, newer than 3');
    expect(run.said).toContain('a newer version of Credence wrote it');
    expect(run.said).not.toContain('open it once with the service of this version');
    expect(snapshot(copy)).toEqual(before);
  });
});
