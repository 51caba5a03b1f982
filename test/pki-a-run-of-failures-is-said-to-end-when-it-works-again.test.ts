import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { memoryPublishedRevocations } from '../adapters/driven/pki/published-revocations.ts';
import { openCredence, systemClock, type Credence, type PkiRevocation } from '../adapters/runtime/index.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { PublishedLedger, type FailuresEnded } from '../adapters/runtime/pki-published.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { dataFolderPki, ledgerOnAFullDisk, ocspResponderOver, PKI_TEST_URL } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, pkiOf, startPkiService, testCa, testLeaf, testResponder } from './support/pki-test-ca.ts';
import { cmd } from './support/fleet.ts';
import type { TestService } from './support/service.ts';

/*
 * The OCSP responder and the CRL listing report a failure once per run of them (review 276: not at every request), but
 * the end of such a run was never said: an operator who saw `PKI revocation failed` at error could not tell from the
 * log whether signing OCSP answers, or recording the revocations published, had recovered. The end of a run is now
 * said once (`onRecovered`; the service logs it at info), naming what works again and how many failures the run held.
 */

const TOKEN_REMOVED = 'CKR_TOKEN_NOT_PRESENT: the token was removed';

describe('an OCSP responder whose failures end', () => {
  let opened: Credence;
  beforeAll(() => {
    opened = openCredence({ location: { memory: true }, clock: systemClock });
  });
  afterAll(() => opened.close());

  it('says once, when an answer is signed again, that signing works again and how many answers failed', async () => {
    const ca = await testCa('recovering', 'p256');
    // Never recorded: `unknown`, never cached, so every request about it is signed afresh.
    const stranger = await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-recovering' });
    const credential = await testResponder(ca);
    let failures = 2;
    const errors: unknown[] = [];
    const recovered: FailuresEnded[] = [];
    const reads = openCommittedReadModel(opened.readModels);
    const responder = new OcspResponder({
      reads,
      ca,
      published: new PublishedLedger(memoryPublishedRevocations()),
      credential: () => ({ ...credential, sign: (tbs) => (failures-- > 0 ? Promise.reject(new Error(TOKEN_REMOVED)) : credential.sign(tbs)) }),
      now: () => Date.now(),
      onError: (error) => errors.push(error),
      onRecovered: (ended) => recovered.push(ended),
    });
    try {
      const request = await ocspRequest(stranger, ca);
      // Signed before any failure: no run ended.
      expect(recovered).toEqual([]);
      for (let i = 0; i < 2; i++) expect((await responder.respond(request)).outcome).toBe('internalError');
      expect(errors).toHaveLength(1);
      expect(recovered).toEqual([]);
      expect(ocspStatus((await responder.respond(request)).der)).toBe('unknown');
      expect(recovered).toEqual([{ what: 'ocspSigning', failures: 2 }]);
      // Said once: the next answers signed end no run.
      expect(ocspStatus((await responder.respond(request)).der)).toBe('unknown');
      expect(recovered).toHaveLength(1);
      expect(errors).toHaveLength(1);
    } finally {
      reads.close();
    }
  }, 60_000);

  it('says once, when a revocation it answers is recorded again, that recording works again', async () => {
    const ca = await testCa('recording', 'ed25519');
    const leaf = await issueCertifiedCredentialWith(opened, ca, PKI_TEST_URL, 'cred-recording');
    await opened.engine.execute(cmd.revokeCredential('cred-recording', 'keyCompromise'));
    await opened.settle();
    const { ledger, heal } = ledgerOnAFullDisk();
    const errors: unknown[] = [];
    const recovered: FailuresEnded[] = [];
    const { responder, close } = await ocspResponderOver(opened, ca, ledger, { errors, recovered });
    try {
      const request = await ocspRequest(leaf, ca);
      for (let i = 0; i < 2; i++) expect(ocspStatus((await responder.respond(request)).der)).toBe('revoked');
      expect(errors.map(String)).toEqual(['Error: ENOSPC: no space left on device']);
      expect(recovered).toEqual([]);
      heal();
      expect(ocspStatus((await responder.respond(request)).der)).toBe('revoked');
      expect(ledger.get(leaf.serialNumber)).toBeDefined();
      expect(recovered).toEqual([{ what: 'ocspPublication', failures: 2 }]);
      // Recorded now: nothing to write, and nothing more said.
      await responder.respond(request);
      expect(recovered).toHaveLength(1);
    } finally {
      close();
    }
  }, 60_000);
});

describe('the CRL listing of a CA whose ledger writes work again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-recovered-crl-'));
  const folder = dataFolderPki(dir);
  let credence: Credence;
  let pki: PkiRevocation | undefined;
  beforeAll(() => {
    credence = folder.open();
  });
  afterAll(async () => {
    pki?.stop();
    await credence?.close();
    folder.se.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says once, naming the CA, that the revocations its CRLs list are recorded again', async () => {
    const ca = await testCa('default', 'ed25519');
    const errors: string[] = [];
    const recovered: [string, string, FailuresEnded][] = [];
    pki = await folder.start(credence, ca, {
      onError: (component) => errors.push(component),
      onRecovered: (component, caId, ended) => recovered.push([component, caId, ended]),
    });
    await issueCertifiedCredentialWith(credence, ca, PKI_TEST_URL, 'cred-crl');
    const publisher = pki.crl('default')!;
    await publisher.full();
    // The record's file cannot be opened for appending (a folder stands at its name).
    const file = join(dir, 'pki', 'default.published.jsonl');
    mkdirSync(file);
    await credence.engine.execute(cmd.revokeCredential('cred-crl', 'keyCompromise'));
    await credence.settle();
    await publisher.settled();
    await pki.tick();
    await pki.tick();
    expect(errors).toEqual(['crl:default']);
    expect(recovered).toEqual([]);

    rmSync(file, { recursive: true });
    await publisher.delta();
    expect(recovered).toHaveLength(1);
    const [component, caId, ended] = recovered[0]!;
    expect([component, caId, ended.what]).toEqual(['crl:default', 'default', 'crlPublication']);
    expect(ended.failures).toBeGreaterThanOrEqual(2);
    await pki.tick();
    expect(recovered).toHaveLength(1);
  }, 60_000);
});

describe('the service whose OCSP signing key fails twice, then signs', () => {
  let svc: TestService;
  let failures = 0;
  beforeAll(async () => {
    const current = Object.getOwnPropertyDescriptor(OcspSigningKey.prototype, 'current')!.get!;
    vi.spyOn(OcspSigningKey.prototype, 'current', 'get').mockImplementation(function (this: OcspSigningKey) {
      const credential = current.call(this);
      return { ...credential, sign: (tbs: Uint8Array) => (failures-- > 0 ? Promise.reject(new Error(TOKEN_REMOVED)) : credential.sign(tbs)) };
    });
    svc = await startPkiService();
  }, 60_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await svc?.close();
  });

  it('logs one error, then one line at info saying OCSP answers are signed again, naming the CA and the failures only', async () => {
    const ca = pkiOf(svc).cas[0]!;
    const stranger = await testLeaf(ca, { baseUrl: svc.url, name: 'meter-service-recovering' });
    const request = await ocspRequest(stranger, ca);
    const post = async (): Promise<Uint8Array> => {
      const reply = await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(request) });
      expect(reply.status).toBe(200);
      return new Uint8Array(await reply.arrayBuffer());
    };
    failures = 2;
    await post();
    await post();
    expect(ocspStatus(await post())).toBe('unknown');
    await post();
    const lines = svc.logs();
    expect(lines.filter((line) => line.includes('PKI revocation failed'))).toHaveLength(1);
    const said = lines.filter((line) => line.includes('OCSP answers are signed again'));
    expect(said).toHaveLength(1);
    const line = JSON.parse(said[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, component: 'ocsp:default', caId: 'default', what: 'ocspSigning', failures: 2 });
    expect(String(line['msg'])).toContain('CA default');
    // Nothing of the request, nor of the failure's cause.
    expect(said[0]).not.toContain(Buffer.from(request).toString('hex').slice(0, 40));
    expect(said[0]).not.toContain(Buffer.from(request).toString('base64').slice(0, 40));
    expect(said[0]).not.toContain('CKR_TOKEN_NOT_PRESENT');
  }, 60_000);
});
