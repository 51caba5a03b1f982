import { describe, expect, it } from 'vitest';
import { pkiCompleteness, pkiProjection } from '../projections/pki/index.ts';
import { setupCheckpoints, writeCheckpoint } from '../projections/runtime/checkpoints.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { cmd } from './support/fleet.ts';
import { withStoreAndReadModels } from './support/restored-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * The event store restored from an older backup, then `credence projections rebuild pki` (a fresh runner whose first
 * call is rebuild): the `pki` read model is of another log, so its reset must record no rebuild floor. A floor at the
 * other log's position would keep CRLs and OCSP refused until this log writes a pki event that far.
 */

const folder = temporaryFolders('credence-pki-rebuild-restored-');

describe('a pki rebuild on an event store restored from an older backup', () => {
  it('leaves the pki read model whole once rebuilt', async () => {
    await withStoreAndReadModels(folder(), async ({ store, db, engine }) => {
      await engine.execute(cmd.createSubscription());
      const head = (await store.headPosition())!;
      // The pki read model of the log before the restore: its checkpoint names an event this store does not hold.
      setupCheckpoints(db);
      writeCheckpoint(db, 'pki', { position: head + 1_000n, occurredAt: '2026-01-01T00:00:00.000Z', eventId: 'lost-with-the-restore' });
      const cli = new ProjectionRunner({ db, store, projections: [pkiProjection()] });
      await cli.rebuild('pki');
      expect(pkiCompleteness(db)).toEqual({ complete: true });
    });
  });
});
