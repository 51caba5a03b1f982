import { z } from 'zod';
import { CredenceError, isCredenceError } from '../errors.ts';
import { jsonLimitIssue, MESSAGE_JSON_LIMITS } from '../json-limits.ts';
import { base64urlString, toBase64url } from '../crypto/base64url.ts';
import { validityAt, type CredentialDescriptor } from '../crypto/credential.ts';
import { MAX_PROOF_LENGTH } from '../crypto/sizes.ts';
import type { RandomSource } from '../ports/random.ts';

/**
 * Why a protocol step was refused. Reasons are stable codes for callers; details go into the message only. A hello
 * never answers why a credential cannot be used (`unusableCredential`): those reasons reach the service's log. An
 * association or provisioning hello does not even answer that it cannot be used: it gets a decoy challenge
 * (adapters/protocols/shared/decoy.ts), the reason told at the finish (or auth) to a peer that proves it holds the credential.
 */
export type ProtocolReason =
  | 'malformed'
  | 'unknown_session'
  | 'unknown_credential'
  | 'wrong_identity'
  | 'nonce_mismatch'
  | 'stale'
  | 'replayed_nonce'
  | 'replayed_transcript'
  | 'replay_cache_full'
  | 'bad_mac'
  | 'bad_signature'
  | 'bad_proof_of_possession'
  | 'invalid_ephemeral_key'
  | 'decryption_failed'
  | 'credential_mismatch'
  | 'unsupported'
  /** A message of another version of the protocol than this end speaks; the message names the version. */
  | 'unsupported_version'
  | 'credential_expired'
  | 'credential_not_yet_valid'
  | 'credential_revoked'
  | 'certificate_rejected'
  | 'lifetime_exhausted'
  | 'lifetime_exceeds_credential'
  | 'lifetime_exceeds_request'
  | 'too_many_sessions'
  /** One initiator authenticated more runs within the replay window than a responder lets one initiator have. */
  | 'too_many_runs'
  /** A CSR refused: malformed, its signature (proof of possession) does not verify, or it names another node (issue 13). */
  | 'bad_csr'
  /** The issuing CA cannot certify this credential (its own validity does not cover the credential's), or a CSR is required. */
  | 'certificate_not_issued'
  | AssociationClosedReason;

/**
 * Why an association takes no handshake though the credential it was configured with can be used: told only to a
 * Registree whose proof verified with that credential, at the finish (adapters/protocols/association/registrar-still-usable.ts);
 * a hello is answered alike whatever it is. Each names the association machine's state or rule (machines/guards.ts).
 */
export type AssociationClosedReason =
  /** Not waiting for its handshake (associated, revoked, expired): a new handshake needs a new association id. */
  | 'association_not_waiting'
  /** Its node is not enrolled (servedUnderSubscription). */
  | 'node_not_enrolled'
  /** Its node's M2M service subscription ended (seed 003 11.2.1, servedUnderSubscription). */
  | 'subscription_ended'
  /** Its CSE Registree's CSE-ID is no longer the one its node holds (RS-01, credentialBelongsToRegistree). */
  | 'cse_id_moved'
  /** Its AE Registree's App-ID is not enrolled, or its enrolment credential ended (seed 003 11.2.2). */
  | 'app_id_not_enrolled';

/** A typed `protocol` error naming the step; the detail never carries secret material. */
export const protocolFailure = (step: string, reason: ProtocolReason, detail?: string): CredenceError =>
  new CredenceError({
    code: 'protocol',
    step,
    reason,
    message: `${step} rejected: ${reason}${detail ? ` (${detail})` : ''}`,
  });

/** Schema messages quoted in a refusal are cut: the detail explains the refusal, it does not echo the input. */
const MAX_DETAIL = 400;

const refuse = (step: string, detail: string): never => {
  throw protocolFailure(step, 'malformed', detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL)}...` : detail);
};

/**
 * Parses a wire message. Every failure is a `protocol` refusal `malformed` at this step, never an exception
 * (issue 10 items 2 and 3): input beyond the JSON limits is refused before any schema walks it, a schema failure
 * names the offending paths, and anything a schema throws is caught (SER-001: no message crashes a protocol end).
 */
export const parseMessage = <S extends z.ZodType>(schema: S, input: unknown, step: string): z.output<S> => {
  let parsed: z.ZodSafeParseResult<z.output<S>>;
  try {
    const tooBig = jsonLimitIssue(input, MESSAGE_JSON_LIMITS);
    if (tooBig !== undefined) return refuse(step, `${tooBig.path || '(root)'}: ${tooBig.message}`);
    parsed = schema.safeParse(input);
  } catch (error) {
    if (error instanceof CredenceError) throw error;
    return refuse(step, 'the message could not be parsed');
  }
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
  return refuse(step, detail);
};

/** 256-bit fresh nonce (SER-012: every run is bound to nonces from both sides). */
export const NONCE_LENGTH = 32;
export const Nonce = base64urlString(NONCE_LENGTH);
export const newNonce = (random: RandomSource): string => toBase64url(random(NONCE_LENGTH));
export const Proof = base64urlString({ max: MAX_PROOF_LENGTH });
export const SessionId = z.string().max(22).regex(/^[A-Za-z0-9_-]{22}$/, 'must be a 16-byte base64url session id');

/** Rejects a message whose sender clock is too far from ours: old messages cannot be replayed past the cache window. */
export const assertFresh = (step: string, sentAt: string, now: Date, maxSkewSeconds: number): void => {
  const skew = Math.abs(now.getTime() - Date.parse(sentAt));
  if (!(skew <= maxSkewSeconds * 1000)) throw protocolFailure(step, 'stale', `sent ${sentAt}, now ${now.toISOString()}`);
};

/**
 * What a peer that has not authenticated is told of a credential it cannot use, whatever the reason:
 * `unknown_credential`, with no detail. Whether a credential exists, was revoked, has expired or is not valid yet,
 * and until when, is its lifecycle, and a stranger holding a Node-ID and a public fingerprint must not learn it (seed
 * 002 unobservability; SER-001: a hello is answered before anyone has authenticated). The real refusal stays on the
 * error as its `cause`, not enumerable (as `new Error(message, { cause })` makes it), for the service's own log
 * (`concealedRefusal`): an answer is made from `problem` alone, so the cause never reaches the peer. At an association
 * or provisioning hello this refusal is not answered at all: it goes to the log, and the hello gets a decoy challenge (a refusal,
 * whatever it says, tells that the credential cannot be used; adapters/protocols/shared/decoy.ts).
 */
export const unusableCredential = (step: string, real: CredenceError): CredenceError => concealing(protocolFailure(step, 'unknown_credential'), real);

/**
 * `told`, the answer a peer that has not authenticated gets (`unknown_credential`, or a failed proof's `bad_mac` /
 * `bad_signature` at an association finish or a provisioning auth whose credential ended during the run), with the real refusal `real`
 * kept behind it as its `cause`, not enumerable, for the service's log only (`concealedRefusal`).
 */
export const concealing = (told: CredenceError, real: CredenceError): CredenceError => {
  Object.defineProperty(told, 'cause', { value: real, enumerable: false, writable: true, configurable: true });
  return told;
};

/** What a refusal kept from the peer (`concealing`) may be answered as. */
const CONCEALING: ReadonlySet<string> = new Set(['unknown_credential', 'bad_mac', 'bad_signature']);

/**
 * The refusal kept from the peer behind `error` (`unusableCredential`, `concealing`), if it is one, and the reason
 * the peer was told instead (`told`): for the service's log only.
 */
export const concealedRefusal = (
  error: unknown,
): { readonly step: string; readonly reason: string; readonly message: string; readonly told: string } | undefined => {
  if (!isCredenceError(error, 'protocol') || error.problem.code !== 'protocol' || !CONCEALING.has(error.problem.reason)) return undefined;
  const real = error.cause;
  if (!isCredenceError(real, 'protocol') || real.problem.code !== 'protocol') return undefined;
  return { step: real.problem.step, reason: real.problem.reason, message: real.message, told: error.problem.reason };
};

/**
 * The credential a peer claims, as the infrastructure knows it, checked the same way by every protocol: known,
 * matching the claimed fingerprint and kind, not revoked, inside its validity (seed 003 clause 11.3.2: no
 * association, and no provisioning, from a revoked or expired credential). Checked at a hello, before the peer has
 * authenticated: every refusal is `unusableCredential`, the same answer for each reason (which the association
 * handshake's Registrar and the Enrolment Function answer with a decoy challenge instead, adapters/protocols/shared/decoy.ts).
 */
export const assertUsableCredential = <K extends { readonly descriptor?: CredentialDescriptor; readonly revoked?: boolean }>(
  step: string,
  known: K | undefined,
  claimed: { readonly fingerprint: string; readonly kind: string },
  now: Date,
  who: string,
): K & { readonly descriptor: CredentialDescriptor } => {
  const unusable = (reason: ProtocolReason, detail: string): never => {
    throw unusableCredential(step, protocolFailure(step, reason, detail));
  };
  const descriptor = known?.descriptor;
  if (!known || !descriptor || descriptor.fingerprint !== claimed.fingerprint || descriptor.kind !== claimed.kind) {
    return unusable('unknown_credential', `no such credential for ${who}`);
  }
  if (known.revoked) return unusable('credential_revoked', `${descriptor.fingerprint} of ${who}`);
  const state = validityAt(descriptor.validity, now);
  if (state === 'expired') return unusable('credential_expired', `${descriptor.fingerprint} of ${who} ended ${descriptor.validity.notAfter}`);
  if (state !== 'active') return unusable('credential_not_yet_valid', `${descriptor.fingerprint} of ${who} starts ${descriptor.validity.notBefore}`);
  return known as K & { readonly descriptor: CredentialDescriptor };
};
