import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startPkiRevocation, systemRandom, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { operator } from './support/fleet.ts';
import { BASE_URL, issuedAfterBackupWorld } from './support/issued-after-backup.ts';
import { serialsOf } from './support/pki-instance.ts';

/*
 * Review 247: an events.db restored from an older backup lacks the credentials provisioned since, and nothing named
 * their certificates: OCSP answered `unknown`, no CRL could ever list them (no credential to revoke), and CRL-only
 * relying parties accepted them until they expired, without a word at start. Now each CA journals every certificate
 * before it is recorded and handed over (`<data>/pki/<ca>.issued.jsonl`), the start names those the log lacks, and
 * the journal line's `issue` recorded again (what `credence command issueCredential --data @FILE` sends) makes the
 * credential revocable, its certificate then on the CRL.
 */

describe('a certificate issued after a backup, after an events-only restore', () => {
  const w = issuedAfterBackupWorld('issued');
  const errors: { component: string; error: unknown }[] = [];
  const start = (c: Credence, reported: { count: number; credentialIds: string[]; serials: string[] }[]) =>
    startPkiRevocation({
      credence: c, cas: [w.ca()], baseUrl: BASE_URL, dataDir: w.dir, se: w.infra, random: systemRandom, now: () => w.clock.now().getTime(),
      onError: (component, error) => errors.push({ component, error }),
      onIssuedNotInLog: (_caId, count, certificates) =>
        reported.push({ count, credentialIds: certificates.map((x) => x.credentialId), serials: certificates.map((x) => x.serialNumber) }),
    });

  afterAll(() => w.dispose());

  it('is named at start, and recorded again from its journal line it is revoked and listed on the CRL', async () => {
    await w.createCa();
    let c = w.open();
    await w.subscribe(c);
    for (const nodeId of ['meter-1', 'meter-2']) await w.enrol(c, nodeId);
    await w.provision(c, 'meter-1', 'meter-1-svc');
    await w.close();
    w.backUp();

    // Provisioned after the backup: its certificate is out in the field, and the restore loses its credential.
    c = w.open();
    await w.provision(c, 'meter-2', 'meter-2-svc');
    const lost = await w.serialOf(c, 'meter-2-svc');
    expect(w.journal().map((r) => r.credentialId)).toEqual(['meter-1-svc', 'meter-2-svc']);
    await w.close();
    w.restoreEvents();

    c = w.open();
    const reported: { count: number; credentialIds: string[]; serials: string[] }[] = [];
    let pki = await start(c, reported);
    // The restored log's read model is rebuilt after the start: the first tick that finds it whole names them.
    await c.settle();
    await pki.tick();
    expect(errors).toEqual([]);
    expect(reported).toEqual([{ count: 1, credentialIds: ['meter-2-svc'], serials: [lost] }]);
    expect(serialsOf((await pki.crl('default')!.full()).der)).not.toContain(lost);

    // The remedy: the journal line's `issue` recorded again, then the credential revoked.
    const line = w.journal().find((r) => r.serialNumber === lost)!;
    await c.engine.execute(command('issueCredential', line.issue, { actor: operator }));
    await c.engine.execute(command('revokeCredential', { credentialId: 'meter-2-svc', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    expect(serialsOf((await pki.crl('default')!.full()).der)).toContain(lost);
    pki.stop();

    // Held by the log again: the next start says nothing.
    const again: typeof reported = [];
    pki = await start(c, again);
    await c.settle();
    await pki.tick();
    expect(again).toEqual([]);
    pki.stop();
  }, 60_000);

  it('refuses a run whose certificate cannot be journalled: nothing is recorded', async () => {
    const c = w.current() ?? w.open();
    // A directory where the journal would be: every append fails.
    rmSync(join(w.dir, 'pki', 'default.issued.jsonl'));
    mkdirSync(join(w.dir, 'pki', 'default.issued.jsonl'));
    await w.enrol(c, 'meter-3');
    await expect(w.provision(c, 'meter-3', 'meter-3-svc')).rejects.toThrow(/certificate_not_issued/);
    expect((await c.engine.entity('credential', 'meter-3-svc')).events).toEqual([]);
    await w.close();
  }, 60_000);
});
