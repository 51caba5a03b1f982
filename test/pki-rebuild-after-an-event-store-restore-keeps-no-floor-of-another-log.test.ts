import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { pkiCompleteness, pkiProjection } from '../projections/pki/index.ts';
import { setupCheckpoints, writeCheckpoint } from '../projections/runtime/checkpoints.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { cmd, fixture } from './support/fleet.ts';

/*
 * The event store restored from an older backup, then `credence projections rebuild pki` (a fresh runner whose first
 * call is rebuild): the `pki` read model is of another log, so its reset must record no rebuild floor. A floor at the
 * other log's position would keep CRLs and OCSP refused until this log writes a pki event that far.
 */

const folders: string[] = [];
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('a pki rebuild on an event store restored from an older backup', () => {
  it('leaves the pki read model whole once rebuilt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-pki-rebuild-restored-'));
    folders.push(dir);
    const store = openSqliteStoreInDir(dir, { durability: 'normal' });
    const db = openReadModels({ dir });
    try {
      const { engine } = fixture(store);
      await engine.execute(cmd.createSubscription());
      const head = (await store.headPosition())!;
      // The pki read model of the log before the restore: its checkpoint names an event this store does not hold.
      setupCheckpoints(db);
      writeCheckpoint(db, 'pki', { position: head + 1_000n, occurredAt: '2026-01-01T00:00:00.000Z', eventId: 'lost-with-the-restore' });
      const cli = new ProjectionRunner({ db, store, projections: [pkiProjection()] });
      await cli.rebuild('pki');
      expect(pkiCompleteness(db)).toEqual({ complete: true });
    } finally {
      db.close();
      await store.close();
    }
  });
});
