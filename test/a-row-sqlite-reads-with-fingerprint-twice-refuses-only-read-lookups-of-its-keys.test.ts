import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { runCli } from './support/cli.ts';
import { at, cmd, placeholderKey, rejection, T0 } from './support/fleet.ts';
import { tempDirs } from './transparency-fixtures.ts';
import { nameTheFingerprintTwice, REAL_KEY, twoMetersAndCred1 } from './support/fingerprint-named-twice.ts';

/*
 * Review 325 item 1: a CredentialIssued row SQLite reads with "fingerprint" twice (the first value in the SER-010
 * index, the last in the event) is refused by a decision (the engine's fact read, the append's check), but a read path
 * (entity replay, history, state) refuses only a lookup of a key that row can change, not every entity of the folder.
 * Item 3: a read-only open of a file with no events_fingerprint_named_twice index walks the rows once, not per lookup.
 */
const dirs = tempDirs();
afterEach(() => {
  vi.restoreAllMocks();
  dirs.cleanup();
});

const real = REAL_KEY;

/** cred-1 on meter-1 and cred-3 on meter-2 (its own key); cred-1's row then edited to name another key first. */
const editedFolder = async (edit = true): Promise<{ dir: string; position: bigint }> => {
  const dir = dirs.make();
  const position = await twoMetersAndCred1(dir, { cred3: true });
  if (edit) nameTheFingerprintTwice(dir);
  return { dir, position };
};

describe('a CredentialIssued row SQLite reads with "fingerprint" twice, on a read path', () => {
  it('leaves history and state of the entities it does not concern answered, as replay --full is', async () => {
    const { dir } = await editedFolder();
    expect((await runCli(['replay', '--full', '--data', dir])).code).toBe(0);
    for (const args of [['history', 'credential-cred-3'], ['history', 'node-meter-1'], ['state', 'credential-cred-3', '--at', at(1)]]) {
      const run = await runCli([...args, '--data', dir]);
      expect(run.code, `${args.join(' ')}: ${run.err}`).toBe(0);
    }
  }, 60_000);

  it('still refuses a decision on any key: the engine issues no credential while the row is there', async () => {
    const { dir, position } = await editedFolder();
    const store = openSqliteStoreInDir(dir);
    try {
      const engine = createEngine({ store, clock: new FakeClock(T0) });
      const refused = await rejection(engine.execute(cmd.issueCredential('cred-4', 'meter-2', at(90))));
      expect(refused.code).toBe('damaged_database');
      expect(refused.message).toContain(`position ${position}`);
      expect(await store.readStream('credential-cred-4')).toEqual([]);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses the history of a later issue of the key the index misses, rather than pass it', async () => {
    const { dir, position } = await editedFolder();
    // Written behind the engine (as an engine before review 321 could, fooled by the edit): cred-2 on cred-1's key.
    const store = openSqliteStoreInDir(dir);
    const [issued] = await store.readStream('credential-cred-1');
    await store.appendToStream('credential-cred-2', [{
      id: randomUUID(),
      type: 'CredentialIssued',
      data: { ...(issued!.data as Record<string, unknown>), credentialId: 'cred-2', fingerprint: real },
      metadata: issued!.metadata,
    }], { expectedRevision: ExpectedRevision.noStream });
    await store.close();
    const history = await runCli(['history', 'credential-cred-2', '--data', dir]);
    expect(history.code, history.out).toBe(1);
    expect(history.err).toContain('damaged_database');
    expect(history.err).toContain(`position ${position}`);
  }, 60_000);

  it('is looked for once per read-only store of a file an earlier version wrote (no such index), not per lookup', async () => {
    const { dir } = await editedFolder(false);
    const db = new Database(join(dir, 'events.db'));
    db.exec('DROP INDEX events_fingerprint_named_twice');
    db.close();
    let walks = 0;
    const prepare = Database.prototype.prepare;
    vi.spyOn(Database.prototype, 'prepare').mockImplementation(function (this: Database.Database, source: string) {
      const statement = prepare.call(this, source);
      if (!source.includes('json_remove')) return statement;
      for (const method of ['get', 'all', 'iterate'] as const) {
        const run = (statement[method] as (...args: unknown[]) => unknown).bind(statement);
        (statement as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
          walks++;
          return run(...args);
        };
      }
      return statement;
    } as typeof prepare);
    const store = openSqliteStoreInDir(dir, { readOnly: true });
    try {
      const unrelated = placeholderKey('cred-3').fingerprint;
      for (let i = 0; i < 5; i++) {
        expect(await store.keyCertifiedBy(unrelated, { readOnly: true })).toBe('credential-cred-3');
        expect(await store.keyIssuers(unrelated)).toEqual(['credential-cred-3']);
        expect(await store.keyCertifiedBy(unrelated)).toBe('credential-cred-3');
      }
      expect(walks).toBeLessThanOrEqual(1);
    } finally {
      await store.close();
    }
  }, 60_000);
});
