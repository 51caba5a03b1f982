import { constantTimeEqual } from '../../../domain/crypto/bytes.ts';
import { fromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';
import type { ServiceParameters } from '../../../domain/protocols/enrolment-messages.ts';
import type { M2MSubId } from '../../../domain/ids.ts';
import type { CaId } from '../../../domain/x509/issuing-ca.ts';
import { checkCsrNamesNode, issueNodeCertificate, SERIAL_LENGTH, verifyCertificationRequest, type SubscriptionCa } from '../../../domain/x509/issuance/index.ts';

/**
 * Operational certificates in remote provisioning (issue 13), configured on the Enrolment Function: which CA
 * certifies a node's credential, the public URL relying parties reach this service at (CRL, OCSP, CA certificate),
 * and whether a node must send a CSR.
 */
export interface CertificateIssuance {
  /**
   * The CA for a node with these service parameters, with the subscription it certifies when it names one (recorded
   * with its certificates, review 355); undefined: its credentials get no certificate.
   */
  readonly issuingCa: (serviceParameters: ServiceParameters) => SubscriptionCa | undefined;
  /** Read at each issuance, so a service listening on an ephemeral port names its real address. */
  readonly baseUrl: () => string;
  /**
   * With a CA for the node: refuse an asymmetric credential whose auth carries no CSR (`certificate_not_issued`).
   * Default false: such a credential is provisioned without a certificate, as without a CA.
   */
  readonly requireCsr?: boolean;
  /**
   * Keeps, outside the event log, the `issueCredential` data of a credential that carries a certificate, just before
   * it is recorded (and so before the certificate is handed over); throws when it cannot, and the run is refused with
   * nothing recorded or handed out. A restore of the log from an older backup loses the credential, and this record is
   * then all that names the certificate (review 247: adapters/runtime/pki-issued.ts).
   */
  readonly recordIssued?: (issue: unknown) => void;
}

const AUTH = 'provisioning.auth';
const RECEIPT = 'provisioning.receipt';

/**
 * A certificate checked at the auth step and signed once the receipt was verified: `issue` signs it. `issuingCaCertifies`:
 * the M2M Service Subscription its CA names (review 355), which the cascade compares with the subscription a node leaves.
 */
export interface CertificateToIssue {
  readonly issuingCa: CaId;
  readonly issue: () => Promise<{ readonly certificate: string; readonly issuingCa: CaId; readonly issuingCaCertifies?: M2MSubId }>;
}

/**
 * The certificate of a credential being provisioned, from the node's CSR, or undefined when none is to be issued.
 * The CSR is checked now, at the auth step; the CA signs only when `issue` is called, once the node's receipt was
 * verified, just before the credential is recorded: a certificate handed to a node whose run ends before it is
 * recorded could never be revoked (no CRL or OCSP knows it). Refusals here are `protocol` errors at the auth step,
 * before anything is recorded: `bad_csr` (malformed, no proof of possession, names another node), `unsupported` (a
 * key other than Ed25519 or P-256), `credential_mismatch` (the CSR's key is not the credential's) and
 * `certificate_not_issued` (no CSR where one is required). A CA whose own validity does not cover the credential's
 * refuses at the receipt step (`certificate_not_issued`), still before anything is recorded. `issue` is given the
 * credential's validity; the certificate's is derived from it (certificateValidityOf), never outlasting it.
 */
export const certificateToIssue = (
  issuance: CertificateIssuance | undefined,
  random: RandomSource,
  run: {
    readonly csr: string | undefined;
    readonly credentialKey: { readonly kind: 'ed25519' | 'p256'; readonly bytes: Uint8Array };
    readonly nodeId: string;
    readonly serviceParameters: ServiceParameters;
    readonly validity: { readonly notBefore: string; readonly notAfter: string };
  },
): CertificateToIssue | undefined => {
  // A run that asks for no certificate, where none is required, is not asked which CA would sign: a subscription whose
  // CA awaits its certificate refuses only what that CA would certify (select.ts issuingCaFor).
  if (issuance === undefined || (run.csr === undefined && issuance.requireCsr !== true)) return undefined;
  const ca = issuance.issuingCa(run.serviceParameters);
  if (ca === undefined) return undefined;
  if (run.csr === undefined) throw protocolFailure(AUTH, 'certificate_not_issued', `CA ${ca.id} requires a CSR for an asymmetric credential`);
  const checked = verifyCertificationRequest(fromBase64url(run.csr));
  // The details are quoted as they are: csr.ts bounds them where it makes them (fixed phrases, identifiers cut at 80
  // or 120 characters), as protocol.ts's rule asks: a detail explains the refusal, it does not echo the input.
  if (!checked.ok) {
    const unsupported = checked.reason === 'unsupported_key' || checked.reason === 'unsupported_signature_algorithm';
    throw protocolFailure(AUTH, unsupported ? 'unsupported' : 'bad_csr', `csr: ${checked.reason}: ${checked.detail}`);
  }
  const { publicKey } = checked.value;
  if (publicKey.kind !== run.credentialKey.kind || !constantTimeEqual(publicKey.bytes, run.credentialKey.bytes)) {
    throw protocolFailure(AUTH, 'credential_mismatch', 'csr: its key is not credentialPublicKey');
  }
  const named = checkCsrNamesNode(checked.value, { nodeId: run.nodeId, cseId: run.serviceParameters.cseId });
  if (!named.ok) throw protocolFailure(AUTH, 'bad_csr', `csr: ${named.reason}: ${named.detail}`);
  return {
    issuingCa: ca.id,
    issue: async () => {
      const issued = await issueNodeCertificate({
        ca,
        baseUrl: issuance.baseUrl(),
        naming: { nodeId: run.nodeId, cseId: run.serviceParameters.cseId },
        key: publicKey,
        validity: { notBefore: new Date(run.validity.notBefore), notAfter: new Date(run.validity.notAfter) },
        serialRandom: random(SERIAL_LENGTH),
      });
      if (!issued.ok) throw protocolFailure(RECEIPT, 'certificate_not_issued', `CA ${ca.id}: ${issued.reason}`);
      return { certificate: toBase64url(issued.der), issuingCa: ca.id, ...(ca.subscription !== undefined ? { issuingCaCertifies: ca.subscription } : {}) };
    },
  };
};

/**
 * The validity granted in a provisioning challenge: from `now` for the credential lifetime; whole seconds when
 * certificates are issued (`wholeSeconds`: X.509 times have no milliseconds, so the certificate starts when the
 * credential does; it ends one second before the credential's notAfter, the last whole second of the credential's
 * half-open window, as issueNodeCertificate derives it: certificateValidityOf).
 */
export const grantedValidity = (now: Date, lifetimeSeconds: number, wholeSeconds: boolean): { notBefore: string; notAfter: string } => {
  const start = wholeSeconds ? Math.floor(now.getTime() / 1000) * 1000 : now.getTime();
  const end = start + lifetimeSeconds * 1000;
  return { notBefore: new Date(start).toISOString(), notAfter: new Date(wholeSeconds ? Math.floor(end / 1000) * 1000 : end).toISOString() };
};

/**
 * The validity offered in the challenge, cut to the end of the node's M2M service subscription when that comes first
 * (seed 003 11.2.1; review 195: a credential, and its certificate, outlived the contract by a year). Whole seconds as
 * `grantedValidity`. Undefined when the cut leaves not one whole second: the run is refused, as an association with
 * no lifetime left is (`lifetime_exhausted`).
 */
export const validityWithinSubscription = (
  offered: { readonly notBefore: string; readonly notAfter: string },
  subscriptionEndsAt: string | undefined,
  now: Date,
  wholeSeconds: boolean,
): { notBefore: string; notAfter: string } | undefined => {
  if (subscriptionEndsAt === undefined || Date.parse(subscriptionEndsAt) >= Date.parse(offered.notAfter)) return { ...offered };
  const end = wholeSeconds ? Math.floor(Date.parse(subscriptionEndsAt) / 1000) * 1000 : Date.parse(subscriptionEndsAt);
  if (end - Math.max(now.getTime(), Date.parse(offered.notBefore)) < 1000) return undefined;
  return { notBefore: offered.notBefore, notAfter: new Date(end).toISOString() };
};
