import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { lockDataFolder, openCredence, SERVICE_LOCK_FILE, type DataFolderLock } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { cmd } from './support/fleet.ts';

/*
 * `credence projections` opened the read models through a ProjectionRunner, whose constructor sets up every
 * projection's tables as this version does: a table of another schema version is dropped and its checkpoint deleted.
 * Beside a running service of another version (upgraded, not yet restarted) a status emptied the service's audit
 * trail under it, and so did a rebuild before its lock refused it. Beside a service, a status now only reads, and a
 * rebuild takes the lock before it opens the read models.
 */

/** What the running service's audit trail holds: its rows, and the schema version it set up. */
const auditOf = (dir: string): { rows: number; version: number } => {
  const db = new Database(join(dir, 'readmodels.db'), { readonly: true });
  try {
    const { rows } = db.prepare('SELECT count(*) AS rows FROM audit_events').get() as { rows: number };
    const { version } = db.prepare("SELECT version FROM projection_schemas WHERE name = 'audit'").get() as { version: number };
    return { rows, version };
  } finally {
    db.close();
  }
};

describe('credence projections on the data folder of a running service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-projections-beside-service-'));
  let lock: DataFolderLock | undefined;
  afterAll(() => {
    lock?.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets up no table there: a status reads, a rebuild is refused before it opens the read models', async () => {
    const credence = openCredence({ location: { dir }, clock: new FakeClock('2026-01-01T00:00:00.000Z') });
    for (const id of ['meter-1', 'meter-2', 'meter-3']) await credence.engine.execute(cmd.registerNode(id));
    await credence.settle();
    await credence.close();
    // A service of an earlier audit schema holds the folder (the CLI was upgraded, the service not yet restarted).
    const db = new Database(join(dir, 'readmodels.db'));
    db.prepare("UPDATE projection_schemas SET version = version - 1 WHERE name = 'audit'").run();
    db.close();
    const before = auditOf(dir);
    expect(before.rows).toBe(3);
    lock = lockDataFolder(dir);

    const refused = capture();
    expect(await main(['projections', 'rebuild', 'audit', '--data', dir], refused.io)).not.toBe(0);
    expect(refused.err.join('\n')).toMatch(/stop that service first/);
    expect(auditOf(dir)).toEqual(before);

    const status = capture();
    expect(await main(['projections', '--json', '--data', dir], status.io), status.err.join('\n')).toBe(0);
    expect(status.err.join('\n')).toMatch(new RegExp(`in use by process ${process.pid} [\\s\\S]*as that process keeps them, without writing them`));
    const lags = (JSON.parse(status.out.join('\n')) as { components: { name: string; eventsBehind: number }[] }).components;
    expect(lags.find((l) => l.name === 'audit')?.eventsBehind).toBe(0);
    expect(auditOf(dir)).toEqual(before);

    // The folder free: a rebuild of an unknown read model is refused before it sets up any table.
    lock.release();
    lock = undefined;
    const unknown = capture();
    expect(await main(['projections', 'rebuild', 'nosuch', '--data', dir], unknown.io)).toBe(2);
    expect(unknown.err.join('\n')).toMatch(/unknown projection nosuch \(known: .*audit.*, all\)/);
    expect(auditOf(dir)).toEqual(before);
    expect(existsSync(join(dir, SERVICE_LOCK_FILE))).toBe(false);

    // A status sets the tables up as this version does, and lets go of the folder.
    expect(await main(['projections', '--json', '--data', dir], capture().io)).toBe(0);
    expect(auditOf(dir)).toEqual({ rows: 0, version: before.version + 1 });
    expect(existsSync(join(dir, SERVICE_LOCK_FILE))).toBe(false);
  }, 60_000);

  it('refuses, with the reason, read models the process holding the folder has not set up yet', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'credence-projections-not-set-up-'));
    const credence = openCredence({ location: { dir: fresh }, clock: new FakeClock('2026-01-01T00:00:00.000Z') });
    await credence.engine.execute(cmd.registerNode('meter-1'));
    await credence.close();
    rmSync(join(fresh, 'readmodels.db'), { force: true });
    rmSync(join(fresh, 'readmodels.db-wal'), { force: true });
    rmSync(join(fresh, 'readmodels.db-shm'), { force: true });
    const held = lockDataFolder(fresh);
    try {
      for (const argv of [['projections', '--data', fresh], ['query', 'revocations', '--data', fresh]]) {
        const refused = capture();
        expect(await main(argv, refused.io), argv.join(' ')).not.toBe(0);
        expect(refused.err.join('\n')).toMatch(/has not set up its read models yet; run credence (projections|query) again once it has/);
      }
    } finally {
      held.release();
      rmSync(fresh, { recursive: true, force: true });
    }
  }, 60_000);
});
