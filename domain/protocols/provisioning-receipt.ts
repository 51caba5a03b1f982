import { tryFromBase64url } from '../crypto/base64url.ts';
import type { CredentialKind } from '../crypto/credential.ts';
import { publicKeyFingerprint } from '../crypto/fingerprint.ts';
import { isValidSigningPublicKey, verifySignature, type SignatureKind } from '../crypto/signatures.ts';
import { ProvisioningReceipt, ProvisioningReceiptV2 } from '../events/credential.ts';
import { recordedStatement } from './recorded-receipt.ts';
import { statementProofInput, type ReceiptStatement } from './provisioning-statement.ts';

/** A public key as events record it: the kind and base64url bytes (a CredentialDescriptor or CredentialIssued data fits). */
export interface PublicKeyRef {
  readonly kind: CredentialKind;
  readonly publicKey?: string | undefined;
}

export interface ReceiptKeys {
  /** The node's bootstrap credential (its CredentialIssued data or descriptor); needed for an asymmetric bootstrap. */
  readonly bootstrap?: PublicKeyRef;
  /** The Enrolment Function's signing key, pinned by the verifier (never taken from the receipt). */
  readonly enrolmentFunction?: { readonly kind: SignatureKind; readonly publicKey: string };
}

/** Facts recorded elsewhere that the receipt must agree with: the credential's CredentialIssued data. */
export interface ReceiptExpectations {
  readonly issued?: { readonly kind: string; readonly fingerprint: string; readonly publicKey?: string | undefined; readonly notBefore: string; readonly notAfter: string; readonly owner: { readonly kind: string; readonly id: string } };
}

/**
 * How each proof fared: `verified`; `mac` (an HMAC with a PSK: only a holder of that PSK can check it, so it proves
 * nothing to a third party); `no_key` (a signature, but the verifier was given no key to check it with); `absent`.
 */
export type ProofStatus = 'verified' | 'mac' | 'no_key' | 'absent';
export type ReceiptProofs = { readonly bootstrap: ProofStatus; readonly credential: ProofStatus; readonly enrolmentFunction: ProofStatus };

export type ReceiptVerification =
  | { readonly ok: true; readonly version: 2; readonly statement: ReceiptStatement; readonly proofs: ReceiptProofs }
  | {
      readonly ok: false;
      readonly code: 'malformed' | 'receipt_v1_not_binding' | 'fact_mismatch' | 'bad_signature' | 'unverifiable';
      readonly message: string;
      readonly version?: 1 | 2;
      readonly path?: string;
    };

type Failure = Extract<ReceiptVerification, { ok: false }>;
const fail = (code: Failure['code'], message: string, path?: string): Failure => ({ ok: false, version: 2, code, message, ...(path ? { path } : {}) });

const V1_NOT_BINDING =
  'receipt v1: binds only the transcript hash; nothing in it says what that hash covers, so its validity, owner, Node-ID, ' +
  'M2M-Sub-ID and Enrolment Function id are not proved by any signature';

/** The signature over the statement by the key `key`, whose fingerprint must be `fingerprint`. */
const checkSignature = (
  kind: SignatureKind,
  publicKey: string | undefined,
  fingerprint: string,
  input: Uint8Array,
  proof: string,
): 'verified' | 'wrong_key' | 'bad_signature' => {
  const key = publicKey === undefined ? undefined : tryFromBase64url(publicKey);
  if (key === undefined || !isValidSigningPublicKey(kind, key) || publicKeyFingerprint(kind, key) !== fingerprint) return 'wrong_key';
  const signature = tryFromBase64url(proof);
  return signature !== undefined && verifySignature(kind, key, input, signature) ? 'verified' : 'bad_signature';
};

const ISSUED_FACTS = ['kind', 'fingerprint', 'publicKey', 'notBefore', 'notAfter'] as const;

/**
 * Offline verification of a provisioning receipt (SER-016; issue 11 item 5), by anyone holding the public keys, no
 * Secure Environment: rebuilds the receipt statement (provisioning-statement.ts) from the recorded facts and checks
 * every proof over it that a third party can check. Any change to a recorded fact (validity, owner, Node-ID, CSE-ID,
 * M2M-Sub-ID, Enrolment Function id, credential id, fingerprint or public key, bootstrap, manufacturer certificate
 * fingerprint, transcript hash, completion time) changes the statement and fails the signatures over it.
 *
 * `recorded` is a `CredentialProvisioned` event's data (its `credentialId` must be the one the receipt names) or a
 * recorded receipt alone. Failures are values, never exceptions. What it proves by kind:
 *  - asymmetric bootstrap: the node's bootstrap signature (needs `keys.bootstrap`): the node stated these facts;
 *  - asymmetric credential: the signature with the new key (its public key is in the receipt): proof of possession;
 *  - PSK bootstrap or PSK credential: that proof is a MAC; only the Enrolment Function can check it (it did, before
 *    the receipt was recorded). Offline, the Enrolment Function's signature (`keys.enrolmentFunction`) is then all
 *    there is: it proves the Enrolment Function attests the facts, not that the node did.
 * The result is `ok` only if every signature that could be checked verified and the node's bootstrap key or the
 * Enrolment Function's key vouched for the statement.
 */
export const verifyProvisioningReceipt = (recorded: unknown, keys: ReceiptKeys = {}, expect: ReceiptExpectations = {}): ReceiptVerification => {
  const eventData = typeof recorded === 'object' && recorded !== null && 'receipt' in recorded ? (recorded as { credentialId?: unknown; receipt?: unknown }) : undefined;
  const parsed = ProvisioningReceipt.safeParse(eventData ? eventData.receipt : recorded);
  if (!parsed.success) return { ok: false, code: 'malformed', message: `not a provisioning receipt: ${parsed.error.issues[0]?.message ?? 'invalid'}`, path: parsed.error.issues[0]?.path.join('.') ?? '' };
  if (parsed.data.version !== 2) return { ok: false, version: 1, code: 'receipt_v1_not_binding', message: V1_NOT_BINDING };
  const r = ProvisioningReceiptV2.parse(parsed.data);
  if (eventData && eventData.credentialId !== r.credentialId) {
    return fail('fact_mismatch', `the receipt names credential ${String(r.credentialId)}, the event ${String(eventData.credentialId)}`, 'credentialId');
  }
  const { issued } = expect;
  if (issued) {
    for (const field of ISSUED_FACTS) {
      if (issued[field] !== r.credential[field]) return fail('fact_mismatch', `credential.${field} differs from the CredentialIssued event`, `credential.${field}`);
    }
    if (issued.owner.kind !== r.credential.owner.kind || issued.owner.id !== r.credential.owner.id) {
      return fail('fact_mismatch', 'credential.owner differs from the CredentialIssued event', 'credential.owner');
    }
  }
  const statement = recordedStatement(r);

  let bootstrap: ProofStatus = 'mac';
  if (r.bootstrapKind !== 'psk256') {
    if (keys.bootstrap === undefined) bootstrap = 'no_key';
    else {
      const key = keys.bootstrap.kind === r.bootstrapKind ? keys.bootstrap.publicKey : undefined;
      const check = checkSignature(r.bootstrapKind, key, r.bootstrapFingerprint, statementProofInput('bootstrap', statement), r.bootstrapProof);
      if (check === 'wrong_key') return fail('fact_mismatch', 'the bootstrap key given is not the one the receipt names', 'bootstrapFingerprint');
      if (check === 'bad_signature') return fail('bad_signature', "the node's bootstrap signature does not cover these facts", 'bootstrapProof');
      bootstrap = 'verified';
    }
  }

  let credential: ProofStatus = 'mac';
  if (r.credential.kind !== 'psk256') {
    const check = checkSignature(r.credential.kind, r.credential.publicKey, r.credential.fingerprint, statementProofInput('credential', statement), r.credentialProof);
    if (check === 'wrong_key') return fail('fact_mismatch', 'credential.publicKey is not the key of credential.fingerprint', 'credential.publicKey');
    if (check === 'bad_signature') return fail('bad_signature', "the new credential's signature does not cover these facts", 'credentialProof');
    credential = 'verified';
  }

  let enrolmentFunction: ProofStatus = 'absent';
  const ef = r.enrolmentFunctionSignature;
  if (ef !== undefined) {
    if (keys.enrolmentFunction === undefined) enrolmentFunction = 'no_key';
    else {
      const key = keys.enrolmentFunction.kind === ef.kind ? keys.enrolmentFunction.publicKey : undefined;
      const check = checkSignature(ef.kind, key, ef.keyFingerprint, statementProofInput('enrolmentFunction', statement), ef.value);
      if (check === 'wrong_key') return fail('fact_mismatch', "the Enrolment Function key given is not the one that signed", 'enrolmentFunctionSignature.keyFingerprint');
      if (check === 'bad_signature') return fail('bad_signature', "the Enrolment Function's signature does not cover these facts", 'enrolmentFunctionSignature.value');
      enrolmentFunction = 'verified';
    }
  }

  const proofs = { bootstrap, credential, enrolmentFunction };
  if (bootstrap !== 'verified' && enrolmentFunction !== 'verified') {
    const why = r.bootstrapKind === 'psk256' ? "the node's bootstrap proof is a MAC (psk256), checkable only by the Enrolment Function" : 'no bootstrap key was given';
    return fail('unverifiable', `nothing vouches for these facts offline: ${why}, and the Enrolment Function's signature is ${enrolmentFunction === 'absent' ? 'absent' : 'unchecked (no key given)'}`);
  }
  return { ok: true, version: 2, statement, proofs };
};
