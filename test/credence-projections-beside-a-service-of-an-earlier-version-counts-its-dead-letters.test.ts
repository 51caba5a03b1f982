// Review 140: `credence projections` beside a running service of the previous version (the folder held: it reads only
// and sets nothing up) read the cascade's schema-13 dead-letter table as this version's, and failed with a raw
// `SqliteError: no such column: occurred_at`. It counts them then, and says where they are listed.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { lockDataFolder, openCredence } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { T0 } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const run = async (args: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s: string) => out.push(s), err: (s: string) => err.push(s), env: process.env });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

const scratch = temporaryFolders('credence-dead-letters-13-');

/** A data folder this version set up and caught up, closed. */
const settledFolder = async (): Promise<string> => {
  const dir = scratch();
  const c = openCredence({ location: { dir }, clock: new FakeClock(T0) });
  await c.settle();
  await c.close();
  return dir;
};

const SCHEMA_13 = `CREATE TABLE cascade_dead_letters (position INTEGER NOT NULL, event_type TEXT NOT NULL, command TEXT NOT NULL,
  target TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (position, command, target)) WITHOUT ROWID`;

describe('credence projections beside a service of an earlier version', () => {
  it.each([
    ['its schema-13 table', 1, 'cascade dead letters: 1 (its dead letters are listed once the service runs this version, or ask the service: --server)'],
    ['no table', undefined, 'cascade dead letters: not read here (its dead letters are listed once the service runs this version, or ask the service: --server)'],
  ])('prints the lags and, for %s, a note instead of a stack trace', async (_, letters, note) => {
    const dir = await settledFolder();
    const db = new Database(join(dir, 'readmodels.db'));
    db.exec('DROP TABLE cascade_dead_letters');
    if (letters !== undefined) {
      db.exec(SCHEMA_13);
      db.prepare("INSERT INTO cascade_dead_letters VALUES (7, 'NodeRevoked', 'revokeCredential', 'gw-c1', 'broken history')").run();
    }
    db.close();
    const service = lockDataFolder(dir, process.env);
    try {
      const { code, out, err } = await run(['projections', '--data', dir]);
      expect(code, err).toBe(0);
      expect(err).not.toMatch(/SqliteError|no such/);
      expect(out).toMatch(/^projection +checkpoint/m);
      expect(out).toContain(note);
    } finally {
      service.release();
    }
  }, 30_000);

  it('run alone on a folder an earlier version left (review 141): says it emptied the cascade, and what rebuilds it', async () => {
    const dir = await settledFolder();
    // The version an earlier Credence recorded for the cascade's tables.
    const db = new Database(join(dir, 'readmodels.db'));
    db.prepare("UPDATE projection_schemas SET version = version - 1 WHERE name = 'cascade'").run();
    db.close();
    const { code, out, err } = await run(['projections', '--data', dir]);
    expect(code, err).toBe(0);
    expect(out).toMatch(/^projection +checkpoint/m);
    expect(err).toMatch(/note: cascade: written by version \d+, this is version \d+: emptied, and rebuilt from the events at the service's next start or by credence projections rebuild cascade \(its dead letters too/);
  }, 30_000);
});
