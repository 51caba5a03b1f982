import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { memoryCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import { openCredence, openDataFolderSecureEnvironment, startLive, startPkiRevocation, systemClock, systemRandom } from '../adapters/runtime/index.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { CrlPublisher } from '../adapters/runtime/pki-crl-publisher.ts';
import { OcspResponder } from '../adapters/runtime/pki-ocsp-responder.ts';
import { command } from '../domain/commands/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import type { DecodedEvent } from '../domain/stored.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { revocationIssuer, serialOctets } from '../domain/x509/revocation/index.ts';
import { PkiChanges, pkiProjection } from '../projections/pki/index.ts';
import { operator } from '../test/support/fleet.ts';
import { issueCertifiedCredentialWith, testCa, testResponder } from '../test/support/pki-test-ca.ts';
import { fmtMs, now, rate, summarise } from './stats.ts';

/**
 * Issue 13: how fast a revocation reaches relying parties, and what one costs as the list grows.
 * 1. Revocation to "revoked" (engine command -> live runtime -> `pki` projection): in an OCSP response (the
 *    responder asked in a loop) and in a freshly fetched complete CRL; p50/p99 (targets: < 50 ms and < 1 s p99).
 * 2. One revocation (projection apply + delta CRL issued) with 0, 10 000 and 100 000 already revoked: flat is the
 *    target; the ratio to the empty case is printed. The complete CRL's assembly on fetch is printed beside it (it
 *    is a copy of the list and one signature: linear in the list by nature).
 * 3. OCSP responses per second from the cache (no nonce), and with a nonce (cached status, signed afresh).
 */
export const benchPkiRevocation = async (report: (line: string) => void): Promise<void> => {
  await endToEnd(report);
  await costPerRevocation(report);
};

const ocspRequest = (ca: IssuingCa, serialNumber: string, nonce?: Uint8Array): Uint8Array => {
  const hashes = revocationIssuer(ca.certificate).certIdHashes.sha1;
  const reqCert = new pkijs.CertID({
    hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '1.3.14.3.2.26', algorithmParams: new asn1js.Null() }),
    issuerNameHash: new asn1js.OctetString({ valueHex: hashes.name }),
    issuerKeyHash: new asn1js.OctetString({ valueHex: hashes.key }),
    serialNumber: new asn1js.Integer({ valueHex: serialOctets(serialNumber) }),
  });
  const tbsRequest = new pkijs.TBSRequest({ requestList: [new pkijs.Request({ reqCert })] });
  if (nonce !== undefined) {
    tbsRequest.requestExtensions = [new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', extnValue: new asn1js.OctetString({ valueHex: nonce }).toBER() })];
  }
  return new Uint8Array(new pkijs.OCSPRequest({ tbsRequest }).toSchema(true).toBER());
};

/** 0 good, 1 revoked, 2 unknown: the CHOICE tag of the first SingleResponse's certStatus. */
const statusOf = (der: Uint8Array): number => {
  const response = pkijs.OCSPResponse.fromBER(der);
  const basic = pkijs.BasicOCSPResponse.fromBER(response.responseBytes!.response.valueBlock.valueHexView);
  return (basic.tbsResponseData.responses[0]!.certStatus as asn1js.BaseBlock).idBlock.tagNumber;
};

const endToEnd = async (report: (line: string) => void): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-bench-pki-'));
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
  const credence = openCredence({ location: { dir }, clock: systemClock, security: { se, random: systemRandom, actor: operator } });
  const ca = await testCa('default', 'p256');
  const pki = await startPkiRevocation({ credence, cas: [ca], baseUrl: 'http://127.0.0.1:9', dataDir: dir, se: ownerView(se, 'maf:infrastructure'), random: systemRandom, now: () => Date.now() });
  const live = startLive(credence, { tickMs: 1000 });
  await live.start();
  try {
    const count = 200;
    const leaves: Awaited<ReturnType<typeof issueCertifiedCredentialWith>>[] = [];
    for (let i = 0; i < count; i++) leaves.push(await issueCertifiedCredentialWith(credence, ca, 'http://127.0.0.1:9', `cred-${i}`));
    await credence.settle();
    const responder = pki.ocsp('default')!;
    const publisher = pki.crl('default')!;
    const ocspMs: number[] = [];
    const crlMs: number[] = [];
    const commandMs: number[] = [];
    for (const leaf of leaves) {
      const request = ocspRequest(ca, leaf.serialNumber);
      if (statusOf((await responder.respond(request)).der) !== 0) throw new Error('expected good before the revocation');
      const start = now();
      await credence.engine.execute(command('revokeCredential', { credentialId: leaf.credentialId, reason: 'keyCompromise' }, { actor: operator }));
      commandMs.push(now() - start);
      while (statusOf((await responder.respond(request)).der) !== 1) await new Promise((resolve) => setImmediate(resolve));
      ocspMs.push(now() - start);
      const crl = pkijs.CertificateRevocationList.fromBER((await publisher.full()).der);
      if (!(crl.revokedCertificates ?? []).some((r) => Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex') === leaf.serialNumber)) {
        throw new Error('the freshly fetched CRL lacks the revocation');
      }
      crlMs.push(now() - start);
    }
    const o = summarise(ocspMs);
    const c = summarise(crlMs);
    const a = summarise(commandMs);
    report(`revocation -> OCSP "revoked" (${count}, live runtime): p50 ${fmtMs(o.p50)}  p99 ${fmtMs(o.p99)}  max ${fmtMs(o.max)}  (target p99 < 50ms)`);
    report(`  of which the revokeCredential command itself (decide + durable append): p50 ${fmtMs(a.p50)}  p99 ${fmtMs(a.p99)}`);
    report(`revocation -> freshly fetched full CRL lists it: p50 ${fmtMs(c.p50)}  p99 ${fmtMs(c.p99)}  max ${fmtMs(c.max)}  (target p99 < 1s)`);

    const cached = ocspRequest(ca, leaves[0]!.serialNumber);
    await responder.respond(cached);
    for (const [label, make] of [
      ['from cache (no nonce)', () => cached],
      ['with a nonce (cached status, signed afresh)', () => ocspRequest(ca, leaves[0]!.serialNumber, systemRandom(16))],
    ] as const) {
      let n = 0;
      const t0 = now();
      while (now() - t0 < 1500) {
        await responder.respond(make());
        n++;
      }
      report(`OCSP responses ${label}: ${rate(n, now() - t0)}`);
    }
  } finally {
    await live.stop();
    pki.stop();
    await credence.close();
    se.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

/** A decoded event as the runner hands it to `apply` (only what the projection reads). */
const decoded = (event: unknown, at: number): DecodedEvent => ({ event, at, record: {}, metadata: {} }) as unknown as DecodedEvent;
const serialOf = (n: number): string => `40${n.toString(16).padStart(30, '0')}`;

const costPerRevocation = async (report: (line: string) => void): Promise<void> => {
  const ca = await testCa('default', 'p256');
  const credential = await testResponder(ca);
  const perSize: { size: number; p50: number; full: number }[] = [];
  for (const size of [0, 10_000, 100_000]) {
    const db = new Database(':memory:');
    const changes = new PkiChanges();
    const projection = pkiProjection(changes);
    projection.setup(db);
    const reads = openCommittedReadModel(db);
    const apply = (n: number, at: number) => {
      projection.apply!(db, decoded({ type: 'CredentialIssued', data: { credentialId: `c-${n}`, certificate: { issuingCa: 'default', serialNumber: serialOf(n), notAfter: '2030-01-01T00:00:00.000Z' } } }, at));
      projection.apply!(db, decoded({ type: 'CredentialRevoked', data: { credentialId: `c-${n}`, reason: 'keyCompromise' } }, at));
    };
    const at = Date.now();
    db.transaction(() => {
      for (let n = 0; n < size; n++) apply(n, at);
    })();
    const publisher = new CrlPublisher({ reads, ca, urls: { deltaCrl: 'http://127.0.0.1:9/pki/default/delta-crl' }, numbers: memoryCrlNumbers(() => Date.now()), now: () => Date.now(), coalesceMs: 0 });
    const responder = new OcspResponder({ reads, ca, credential: () => credential, now: () => Date.now() });
    changes.subscribe({ revoked: ({ serialNumber }) => (responder.invalidate(serialNumber), publisher.notify()), reset: () => publisher.reset() });
    await publisher.start();
    // The seeding's garbage collected now, not during the samples (npm run bench passes --expose-gc).
    (globalThis as { gc?: () => void }).gc?.();
    const samples: number[] = [];
    for (let i = 0; i < 300; i++) {
      const n = size + i;
      const start = now();
      db.transaction(() => apply(n, Date.now()))();
      await publisher.settled();
      samples.push(now() - start);
    }
    const fullStart = now();
    await publisher.full();
    const full = now() - fullStart;
    const { p50, p99 } = summarise(samples);
    perSize.push({ size, p50, full });
    report(`one revocation + delta CRL issued, ${size.toLocaleString('en-US')} already revoked: p50 ${fmtMs(p50)}  p99 ${fmtMs(p99)}; full CRL assembled on fetch: ${fmtMs(full)} (${publisher.size.toLocaleString('en-US')} entries)`);
    publisher.stop();
    db.close();
  }
  const base = perSize[0]!.p50;
  report(`cost ratio of one revocation vs the empty list: ${perSize.map((s) => `${s.size.toLocaleString('en-US')}: ${(s.p50 / base).toFixed(2)}x`).join('  ')} (target: flat)`);
};
