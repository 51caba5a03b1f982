import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { validationError } from '../../../domain/errors.ts';
import { constantTimeEqual } from '../../../domain/crypto/bytes.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { TrustAnchors, verifyCertificateChain } from '../../../domain/x509/index.ts';
import type { CaId, X509Signer } from '../../../domain/x509/issuing-ca.ts';
import { issueNodeCertificate, SERIAL_LENGTH } from '../../../domain/x509/issuance/index.ts';

const refuse = (path: string, rule: string, message: string) => validationError([{ path, rule, message }], 'CA certificate');

const names = (der: Uint8Array) => {
  const cert = new x509.X509Certificate(Uint8Array.from(der));
  return { cert, subject: new Uint8Array(cert.subjectName.toArrayBuffer()), issuer: new Uint8Array(cert.issuerName.toArrayBuffer()) };
};
const sameName = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && constantTimeEqual(a, b);

/** The chain from the CA's issuer up to the root, following encoded issuer names (RFC 5280 4.1.2.4). */
const orderChain = (certificate: Uint8Array, chain: readonly Uint8Array[]): Uint8Array[] => {
  const ordered: Uint8Array[] = [];
  let current = names(certificate);
  while (!sameName(current.subject, current.issuer)) {
    if (ordered.length > chain.length) break;
    const issuer = chain.find((c) => !ordered.includes(c) && sameName(names(c).subject, current.issuer));
    if (issuer === undefined) throw refuse('chain', 'complete', `no certificate for ${current.cert.issuer} (the chain must hold every CA above this one, up to the root)`);
    ordered.push(issuer);
    current = names(issuer);
  }
  if (ordered.length === 0) throw refuse('certificate', 'not_self_signed', 'an intermediate certificate is signed by another CA: give that CA and the root with --chain');
  return ordered;
};

/**
 * What an installed CA certificate must be (issue 13): a CA (basicConstraints cA, keyUsage keyCertSign for the
 * certificates it issues and cRLSign for its CRLs), chained to a root among `chain`, and able to issue: a probe
 * certificate signed through the Secure Environment key, exactly as a node's would be, must pass RFC 5280 path
 * validation (domain/x509) from the probe through this CA to the root at `now`. That one check covers the
 * signatures, validity periods, key identifiers, path length and name constraints of the whole chain, and that the
 * Secure Environment key is the key certified. The probe is thrown away. Returns the chain ordered nearest first.
 */
export const checkInstalledCa = async (o: {
  readonly id: CaId;
  readonly certificate: Uint8Array;
  readonly chain: readonly Uint8Array[];
  readonly signer: X509Signer;
  readonly now: Date;
  readonly random: RandomSource;
}): Promise<Uint8Array[]> => {
  const { cert } = names(o.certificate);
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca !== true) throw refuse('certificate', 'ca', 'not a CA certificate (basicConstraints cA is not set)');
  const usages = cert.getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
  const needed = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  if ((usages & needed) !== needed) throw refuse('certificate', 'key_usage', 'keyUsage must allow keyCertSign and cRLSign (the CA signs certificates and CRLs)');
  const ordered = orderChain(o.certificate, o.chain);
  const root = ordered[ordered.length - 1] as Uint8Array;
  const notBefore = new Date(Math.floor(o.now.getTime() / 1000) * 1000);
  const probe = await issueNodeCertificate({
    ca: { id: o.id, certificate: o.certificate, chain: ordered, signer: o.signer },
    baseUrl: 'http://probe.invalid',
    naming: { nodeId: 'credence-ca-install-probe' },
    key: { kind: o.signer.kind, bytes: o.signer.publicKey },
    validity: { notBefore, notAfter: new Date(notBefore.getTime() + 60_000) },
    serialRandom: o.random(SERIAL_LENGTH),
  });
  if (!probe.ok) throw refuse('certificate', 'validity', `the CA certificate is not valid now (${probe.reason})`);
  await verifyCertificateChain([probe.der, o.certificate, ...ordered.slice(0, -1)], TrustAnchors.fromDer([root]), o.now);
  return ordered;
};
