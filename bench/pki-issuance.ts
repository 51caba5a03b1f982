import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import { certificateToIssue } from '../adapters/protocols/enrolment/certificate-issuance.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import { ownerView } from '../domain/ports/owner-view.ts';
import { buildCertificationRequest, issueNodeCertificate, nodeSubject, nodeUris, x509Signature } from '../domain/x509/issuance/index.ts';
import { measureFor, rate } from './stats.ts';

/**
 * Issue 13: certificate issuance per second next to the signature limit of the CA key. For each CA key kind, on the
 * embedded Secure Environment (in memory): raw Secure Environment signatures/s with the CA key (the ceiling: one
 * signature per certificate), certificates/s built and signed (issueNodeCertificate), and certificates/s from a CSR
 * as the Enrolment Function does it (parse, proof-of-possession check, naming check, issuance).
 */
const BUDGET_MS = 1_500;
const random = (n: number) => webcrypto.getRandomValues(new Uint8Array(n));

const measure = (run: () => Promise<unknown>) => measureFor(BUDGET_MS, run);

export const benchPkiIssuance = async (report: (line: string) => void): Promise<void> => {
  for (const kind of ['ed25519', 'p256'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'credence-bench-pki-'));
    const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => new Date(), random });
    try {
      const infra = ownerView(se, 'maf:infrastructure');
      const ca = await createRootCa({ dataDir: dir, se: infra, id: 'default', kind, now: new Date(), random });
      const node = ownerView(se, 'node:bench');
      const nodeKey = await node.generate('p256', { usage: 'sign' });
      const nodePublic = (await node.describe(nodeKey)).publicKey!;
      const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
      const validity = { notBefore, notAfter: new Date(notBefore.getTime() + 365 * 86_400_000) };
      const tbs = random(400); // a TBSCertificate is about this size
      const raw = await measure(() => ca.signer.sign(tbs));
      const built = await measure(() =>
        issueNodeCertificate({ ca, baseUrl: 'https://credence.example', naming: { nodeId: 'meter-1', cseId: '/meter-1-cse' }, key: { kind: 'p256', bytes: nodePublic }, validity, serialRandom: random(16) }),
      );
      const csr = toBase64url(
        await buildCertificationRequest({
          key: { kind: 'p256', bytes: nodePublic },
          subject: nodeSubject('meter-1').name,
          uris: nodeUris({ nodeId: 'meter-1' }),
          sign: async (info) => x509Signature('p256', await node.sign(nodeKey, info)),
        }),
      );
      const issuance = { issuingCa: () => ca, baseUrl: () => 'https://credence.example' };
      const fromCsr = await measure(() =>
        certificateToIssue(issuance, random, {
          csr,
          credentialKey: { kind: 'p256', bytes: nodePublic },
          nodeId: 'meter-1',
          serviceParameters: {},
          validity: { notBefore: validity.notBefore.toISOString(), notAfter: validity.notAfter.toISOString() },
        })!.issue(),
      );
      const pct = (m: { count: number; ms: number }) => `${Math.round(((m.count / m.ms) / (raw.count / raw.ms)) * 100)}%`;
      report(`${kind} CA key: Secure Environment signatures ${rate(raw.count, raw.ms)}`);
      report(`${kind} CA key: certificates built and signed ${rate(built.count, built.ms)} (${pct(built)} of the signature limit)`);
      report(`${kind} CA key: certificates from a P-256 CSR (check + issue) ${rate(fromCsr.count, fromCsr.ms)} (${pct(fromCsr)} of the signature limit)`);
    } finally {
      se.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
};
