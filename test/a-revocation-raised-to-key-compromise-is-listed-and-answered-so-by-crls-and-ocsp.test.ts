import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { memoryPublishedRevocations } from '../adapters/driven/pki/published-revocations.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { PublishedLedger } from '../adapters/runtime/pki-published.ts';
import { command } from '../domain/commands/index.ts';
import { pkiProjection } from '../projections/pki/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { operator } from './support/fleet.ts';
import { crlEntry, ocspAnswer } from './support/invalidity-dates.ts';
import { ocspRequest, ocspRevokedAt, ocspStatus } from './support/ocsp-client.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, pkiOf, testCa, testLeaf, testResponder, type TestLeaf } from './support/pki-test-ca.ts';
import { crlRevocationDate, rootCaInDataFolder, waitUntil } from './support/revocation-dates.ts';
import { withCrlPublisher } from './support/pki-world-with-a-held-cascade.ts';
import { startTestService, type TestService } from './support/service.ts';
import { storedEvents } from './support/stored-events.ts';

/*
 * A certificate revoked as superseded (or by the cascade) whose key is found compromised later: relying parties act on
 * keyCompromise alone, so its reason is raised (RFC 5280 5.3.1; CA/Browser Forum BR 4.9.1.1, 7.2.2). The CRLs list the
 * entry with reasonCode keyCompromise, the delta issued after the raise too (5.2.4: it lists what changed since its
 * base), OCSP answers keyCompromise; the revocationDate and revocationTime stay the first revocation's, and the raise
 * is recorded as published before any CRL or OCSP answer says it, so it survives a restart.
 */

const REASON_CODE_OID = '2.5.29.21';
const HOUR = 3_600_000;

/** The reasonCode of `serial`'s entry on the CRL `der` (RFC 5280 5.3.1); undefined when it has none. */
const crlReasonCode = (der: Uint8Array, serial: string): number | undefined => {
  const found = (crlEntry(der, serial)?.crlEntryExtensions?.extensions ?? []).find((e) => e.extnID === REASON_CODE_OID);
  if (found === undefined) return undefined;
  return (asn1js.fromBER(found.extnValue.valueBlock.valueHexView).result as asn1js.Enumerated).valueBlock.valueDec;
};

/** The revocationReason of the OCSP answer `der`'s first SingleResponse ([0] EXPLICIT CRLReason in RevokedInfo). */
const ocspReasonCode = (der: Uint8Array): number | undefined => {
  const response = asn1js.fromBER(Uint8Array.from(der)).result as asn1js.Sequence;
  // OCSPResponse -> responseBytes [0] -> ResponseBytes -> response OCTET STRING -> BasicOCSPResponse -> tbsResponseData.
  const bytes = ((response.valueBlock.value[1] as asn1js.Constructed).valueBlock.value[0] as asn1js.Sequence).valueBlock.value[1] as asn1js.OctetString;
  const basic = asn1js.fromBER(bytes.valueBlock.valueHexView).result as asn1js.Sequence;
  const tbs = basic.valueBlock.value[0] as asn1js.Sequence;
  const responses = tbs.valueBlock.value.find((b, i) => i > 0 && b instanceof asn1js.Sequence) as asn1js.Sequence;
  const single = responses.valueBlock.value[0] as asn1js.Sequence;
  const revoked = single.valueBlock.value[1] as asn1js.Constructed;
  const reason = revoked.valueBlock.value[1] as asn1js.Constructed | undefined;
  return reason === undefined ? undefined : (reason.valueBlock.value[0] as asn1js.Enumerated).valueBlock.valueDec;
};

const KEY_COMPROMISE = 1;
const SUPERSEDED = 4;

const fetchCrl = async (svc: TestService, path: 'crl' | 'delta-crl'): Promise<Uint8Array> =>
  new Uint8Array(await (await fetch(`${svc.url}/pki/default/${path}`)).arrayBuffer());

/** The CRL at `path` once `serial`'s entry there has reasonCode `code`. */
const listedWith = async (svc: TestService, path: 'crl' | 'delta-crl', serial: string, code: number): Promise<Uint8Array> => {
  let der: Uint8Array = new Uint8Array();
  await waitUntil(`the ${path} lists ${serial} with reason code ${code}`, async () => {
    der = await fetchCrl(svc, path);
    return crlReasonCode(der, serial) === code;
  });
  return der;
};

describe('a certificate revoked as superseded whose reason is raised to keyCompromise', () => {
  let dir: string;
  let svc: TestService;
  let leaf: TestLeaf;
  let revokedAt: number;
  const clock = new FakeClock(new Date(Math.floor(Date.now() / 1000) * 1000));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'credence-raised-reason-'));
    await rootCaInDataFolder(dir, clock);
    svc = await startTestService({ dir, clock });
    const { credence } = svc.service.context;
    leaf = await issueCertifiedCredentialWith(credence, pkiOf(svc).cas[0]!, svc.url, 'cred-1');
    await credence.engine.execute(command('provisionCredential', { credentialId: 'cred-1', method: 'pre-provisioning' }, { actor: operator }));
    clock.set(new Date(clock.now().getTime() + HOUR));
    revokedAt = clock.now().getTime();
    await credence.engine.execute(command('revokeCredential', { credentialId: 'cred-1', reason: 'superseded' }, { actor: operator }));
    // Both CRLs list it as superseded before the raise: relying parties saw that.
    await listedWith(svc, 'crl', leaf.serialNumber, SUPERSEDED);
    await listedWith(svc, 'delta-crl', leaf.serialNumber, SUPERSEDED);
    expect(ocspReasonCode(await ocspAnswer(svc, leaf))).toBe(SUPERSEDED);
    clock.set(new Date(revokedAt + HOUR));
    await credence.engine.execute(command('revokeCredential', { credentialId: 'cred-1', reason: 'keyCompromise' }, { actor: operator }));
  }, 60_000);

  afterAll(async () => {
    await svc?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('is listed as keyCompromise by the delta CRL issued after the raise and by the complete CRL, dated at its first revocation', async () => {
    for (const path of ['delta-crl', 'crl'] as const) {
      const der = await listedWith(svc, path, leaf.serialNumber, KEY_COMPROMISE);
      expect(crlRevocationDate(der, leaf.serialNumber)).toBe(revokedAt);
    }
  });

  it('is answered revoked as keyCompromise by OCSP, revocationTime its first revocation', async () => {
    await waitUntil('OCSP answers keyCompromise', async () => ocspReasonCode(await ocspAnswer(svc, leaf)) === KEY_COMPROMISE);
    const answer = await ocspAnswer(svc, leaf);
    expect(ocspStatus(answer)).toBe('revoked');
    expect(ocspRevokedAt(answer)).toBe(revokedAt);
  });

  it('is a compliance revocation row of its own, at the raise; the cascade leaves no dead letter and replay finds nothing', async () => {
    const url = `${svc.url}/v1/compliance/revocations?from=${new Date(revokedAt - HOUR).toISOString()}&to=${new Date(revokedAt + 2 * HOUR).toISOString()}`;
    let answer: { eventsBehind: number; rows: { id: string; reason: string; occurredAt: string }[] } = { eventsBehind: 1, rows: [] };
    await waitUntil('compliance caught up', async () => {
      answer = (await (await fetch(url, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } })).json()) as typeof answer;
      return answer.eventsBehind === 0;
    });
    const ofCred = answer.rows.filter((r) => r.id === 'cred-1').map((r) => [r.reason, Date.parse(r.occurredAt)]);
    expect(ofCred.sort()).toEqual([['keyCompromise', revokedAt + HOUR], ['superseded', revokedAt]]);
    const metrics = await (await fetch(`${svc.url}/metrics`, { headers: { authorization: `Bearer ${svc.tokens.admin}` } })).text();
    expect(metrics).toMatch(/^credence_cascade_dead_letters 0$/m);
    expect((await replayAll(svc.service.context.credence.store)).findings).toEqual([]);
  });

  it('is recorded as published (a line of its own) and stands across a restart', async () => {
    await listedWith(svc, 'crl', leaf.serialNumber, KEY_COMPROMISE);
    const lines = readFileSync(join(dir, 'pki', 'default.published.jsonl'), 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l) as { reason: string; revokedAt: string });
    expect(lines.map((l) => l.reason)).toEqual(['superseded', 'keyCompromise']);
    expect(new Set(lines.map((l) => Date.parse(l.revokedAt)))).toEqual(new Set([revokedAt]));
    svc = await svc.restart();
    const complete = await listedWith(svc, 'crl', leaf.serialNumber, KEY_COMPROMISE);
    expect(crlRevocationDate(complete, leaf.serialNumber)).toBe(revokedAt);
    expect(ocspReasonCode(await ocspAnswer(svc, leaf))).toBe(KEY_COMPROMISE);
  }, 60_000);
});

describe('a raise the CRL publisher has not read yet, asked of OCSP first', () => {
  it('is answered keyCompromise, at the time first published, and recorded as published before the answer; the CRL then lists it so', async () => {
    const ca = await testCa('default');
    const leaf = await testLeaf(ca, { baseUrl: PKI_TEST_URL, name: 'meter-1' });
    const T0 = Math.floor(Date.now() / 1000) * 1000 - 2 * HOUR;
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const pki = pkiProjection();
    pki.setup?.(db);
    const stored = storedEvents();
    const certificate = { issuingCa: ca.id, serialNumber: leaf.serialNumber, notBefore: leaf.notBefore.toISOString(), notAfter: leaf.notAfter.toISOString(), der: leaf.der };
    db.transaction(() => {
      for (const e of [
        stored('credential-cred-1', 'CredentialIssued', { credentialId: 'cred-1', certificate }, T0),
        stored('credential-cred-1', 'CredentialRevoked', { credentialId: 'cred-1', reason: 'superseded' }, T0 + HOUR),
        stored('credential-cred-1', 'CredentialRevoked', { credentialId: 'cred-1', reason: 'keyCompromise' }, T0 + 2 * HOUR),
      ]) pki.apply!(db, e);
    })();
    const reads = openCommittedReadModel(db);
    // Published as superseded by a CRL signed before the raise.
    const store = memoryPublishedRevocations();
    store.append([{ serialNumber: leaf.serialNumber, credentialId: 'cred-1', revokedAt: new Date(T0 + HOUR).toISOString(), reason: 'superseded', notAfter: leaf.notAfter.toISOString() }]);
    const ledger = new PublishedLedger(store);
    try {
      const credential = await testResponder(ca);
      const responder = new OcspResponder({ reads, ca, published: ledger, credential: () => credential, now: Date.now });
      const answer = (await responder.respond(await ocspRequest(leaf, ca))).der;
      expect([ocspStatus(answer), ocspReasonCode(answer), ocspRevokedAt(answer)]).toEqual(['revoked', KEY_COMPROMISE, T0 + HOUR]);
      expect(ledger.get(leaf.serialNumber)).toMatchObject({ reason: 'keyCompromise', revokedAt: new Date(T0 + HOUR).toISOString() });
      expect([...store.load().values()].map((r) => r.reason)).toEqual(['keyCompromise']);
      await withCrlPublisher({ reads, ca, published: ledger }, async (publisher) => {
        const der = (await publisher.full()).der;
        expect([crlReasonCode(der, leaf.serialNumber), crlRevocationDate(der, leaf.serialNumber)]).toEqual([KEY_COMPROMISE, T0 + HOUR]);
      });
    } finally {
      reads.close();
      db.close();
    }
  }, 60_000);
});
