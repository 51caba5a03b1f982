import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCredence, openDataFolderSecureEnvironment, startPkiRevocation, systemClock, systemRandom, type Credence, type PkiRevocation } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import type { DecodedEvent } from '../domain/stored.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { serialOctets } from '../domain/x509/revocation/index.ts';
import { certificateStanding, PkiChanges, PKI_PROJECTION, pkiProjection } from '../projections/pki/index.ts';
import { ProjectionRunner, type Projection } from '../projections/runtime/index.ts';
import { operator } from './support/fleet.ts';
import { issueCertifiedCredentialWith, testCa } from './support/pki-test-ca.ts';
import { ocspRequest, ocspStatus, includesBytes } from './support/ocsp-client.ts';

const BASE_URL = 'http://127.0.0.1:9';

/**
 * Issue 13 left: the CRL publisher and the OCSP responder read the `pki` read model while a projection batch's
 * transaction was open, so a batch that rolled back could leave a phantom entry in a signed, numbered CRL. Here the
 * `pki` projection runs with a reaction that holds its batch open (as projections with reactions do, one savepoint
 * per event), after the revocation was applied, and the batch's commit then fails: every CRL signed and every OCSP
 * answer given meanwhile must leave the certificate out, and it must appear once the event is committed.
 */
describe('CRLs and OCSP answers reflect committed read-model state only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-pki-committed-'));
  let se: ReturnType<typeof openDataFolderSecureEnvironment>;
  let credence: Credence;
  let db: Database.Database;
  let runner: ProjectionRunner;
  let pki: PkiRevocation;
  let ca: IssuingCa;
  /** Every structure the CA signed (certificates too, until the test clears it), in order. */
  const signedCrls: Uint8Array[] = [];
  let gate: { reached: () => void; open: Promise<void> } | undefined;

  beforeAll(async () => {
    se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    credence = openCredence({ location: { memory: true }, clock: systemClock });
    const plain = await testCa('default', 'p256');
    ca = { ...plain, signer: { ...plain.signer, sign: (tbs) => (signedCrls.push(tbs), plain.signer.sign(tbs)) } };
    // A read model of its own: this runner is the only writer, so the test decides when its batches run.
    db = new Database(':memory:');
    const changes = new PkiChanges();
    const inner = pkiProjection(changes);
    const gated: Projection = {
      ...inner,
      async react(e: DecodedEvent) {
        // The event after the revocation in the same batch: the revocation is applied, its savepoint released, the
        // transaction still open.
        if (e.event.type === 'CredentialIssued' && e.event.data.credentialId === 'cred-later' && gate !== undefined) {
          gate.reached();
          await gate.open;
        }
      },
    };
    runner = new ProjectionRunner({ db, store: credence.store, projections: [gated] });
    pki = await startPkiRevocation({
      credence: { store: credence.store, readModels: db, pkiChanges: changes },
      cas: [ca],
      baseUrl: BASE_URL,
      se: ownerView(se, 'maf:infrastructure'),
      random: systemRandom,
      now: () => Date.now(),
      tickMs: 3_600_000,
    });
  }, 60_000);
  afterAll(async () => {
    pki?.stop();
    await credence?.close();
    db?.close();
    se?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves a rolled-back revocation off every CRL and OCSP answer, and lists it once committed', async () => {
    const leaf = await issueCertifiedCredentialWith(credence, ca, BASE_URL, 'cred-revoked');
    await runner.catchUp(PKI_PROJECTION);
    const publisher = pki.crl('default')!;
    const responder = pki.ocsp('default')!;
    const request = await ocspRequest(leaf, ca, 'SHA-1');
    expect(ocspStatus((await responder.respond(request)).der)).toBe('good');
    const serial = serialOctets(leaf.serialNumber);
    // From here on the CA signs CRLs only (cred-later's certificate has its own serial).
    signedCrls.length = 0;

    await credence.engine.execute(command('revokeCredential', { credentialId: 'cred-revoked', reason: 'keyCompromise' }, { actor: operator }));
    await issueCertifiedCredentialWith(credence, ca, BASE_URL, 'cred-later');
    // The batch's commit fails after both events were applied (a full disk, say): the whole batch rolls back.
    db.exec(`CREATE TRIGGER fail_pki_checkpoint BEFORE INSERT ON projection_checkpoints WHEN NEW.name = '${PKI_PROJECTION}'
      BEGIN SELECT RAISE(ABORT, 'simulated commit failure'); END`);
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    let open!: () => void;
    gate = { reached, open: new Promise<void>((resolve) => (open = resolve)) };
    const failing = runner.catchUp(PKI_PROJECTION);
    await atGate;
    // The revocation is in the open transaction: whatever asks now must not see it.
    expect(db.inTransaction).toBe(true);
    const during = [publisher.full(), publisher.delta(), responder.respond(request)] as const;
    open();
    await expect(failing).rejects.toThrow(/simulated commit failure/);
    gate = undefined;
    const [fullDuring, deltaDuring, ocspDuring] = await Promise.all(during);
    expect(certificateStanding(db, 'default', leaf.serialNumber).status).toBe('good');
    expect(ocspStatus(ocspDuring.der)).toBe('good');
    // The projection's notice woke the publisher inside the transaction: whatever it issued leaves the entry out.
    await publisher.settled();
    expect(includesBytes(fullDuring.der, serial)).toBe(false);
    expect(includesBytes(deltaDuring.der, serial)).toBe(false);
    expect(signedCrls.some((tbs) => includesBytes(tbs, serial))).toBe(false);
    expect(includesBytes((await publisher.full()).der, serial)).toBe(false);
    expect(ocspStatus((await responder.respond(request)).der)).toBe('good');

    // Committed this time: the entry appears on the delta, the complete CRL and in OCSP.
    db.exec('DROP TRIGGER fail_pki_checkpoint');
    await runner.catchUp(PKI_PROJECTION);
    await publisher.settled();
    expect(includesBytes((await publisher.delta()).der, serial)).toBe(true);
    expect(includesBytes((await publisher.full()).der, serial)).toBe(true);
    expect(ocspStatus((await responder.respond(request)).der)).toBe('revoked');
  }, 60_000);
});
