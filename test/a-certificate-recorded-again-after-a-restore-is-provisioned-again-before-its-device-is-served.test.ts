import { afterAll, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { operator } from './support/fleet.ts';
import { issuedAfterBackupWorld } from './support/issued-after-backup.ts';

/*
 * Review 264: README's recipe for a certificate the restored log lacks recorded its journal line's `issue` again
 * (`credence command issueCredential --data @issue.json`), which leaves the credential `initialized`: its device,
 * which holds the certificate, was then refused (`credentialUsable`). The journal is written by remote provisioning,
 * so the credential is provisioned again as such, authenticated on its node's bootstrap credential.
 */

describe('a certificate recorded again from its journal line after an events-only restore', () => {
  const w = issuedAfterBackupWorld('issued-again');
  afterAll(() => w.dispose());

  it('serves its device once provisioned again on its node\'s bootstrap credential, as README says', async () => {
    await w.createCa();
    let c = w.open();
    await w.subscribe(c);
    await w.enrol(c, 'meter-2');
    await w.close();
    w.backUp();

    // Provisioned after the backup, its certificate in its device; the restore loses its credential.
    c = w.open();
    await w.provision(c, 'meter-2', 'meter-2-svc');
    const lost = await w.serialOf(c, 'meter-2-svc');
    await w.close();
    w.restoreEvents();
    c = w.open();
    const associate = async (associationId: string) =>
      (await c.security()).procedures.associate({ device: w.device('meter-2'), associationId, credentialId: 'meter-2-svc', lifetimeSeconds: 3600 });

    // README's first step alone: recorded again, the credential is `initialized`, and its device is refused.
    const line = w.journal().find((r) => r.serialNumber === lost)!;
    await c.engine.execute(command('issueCredential', line.issue, { actor: operator }));
    await expect(associate('sa-1')).rejects.toThrow(/credentialUsable/);

    // The second: `credence credential provision meter-2-svc --method remote-provisioning --bootstrap-credential meter-2-boot`.
    await c.engine.execute(command('provisionCredential', { credentialId: 'meter-2-svc', method: 'remote-provisioning', bootstrapCredentialId: 'meter-2-boot' }, { actor: operator }));
    await associate('sa-2');
    expect((await c.engine.entity('association', 'sa-2')).events.length).toBeGreaterThan(0);
  }, 60_000);
});
