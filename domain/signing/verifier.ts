import { badSignature, isCredenceError, type CredenceError } from '../errors.ts';
import type { DecodedEvent } from '../stored.ts';
import type { Command } from '../commands/index.ts';
import type { Actor, RecordedRequestSignature, RequestSignature } from '../metadata.ts';
import { fromBase64url, tryFromBase64url, verifySignature } from '../crypto/index.ts';
import { signingPayload, signingPayloadV1, signingPayloadWholeData, type SignedCommand } from './payload.ts';
import {
  INFRASTRUCTURE_ACTOR_ID,
  INFRASTRUCTURE_ACTOR_ROLE,
  INFRASTRUCTURE_COMMAND_TYPES,
  MAX_CLOCK_SKEW_SECONDS,
  MAX_REQUEST_LIFETIME_SECONDS,
  parseRequestSigningPolicy,
  type RequestSigningPolicy,
  type RequestSigningPolicyInput,
} from './policy.ts';
import { KIND, keyFingerprint } from './request-signature.ts';
import { p256SignatureForm } from '../crypto/signatures.ts';

/** Checks a command's request signature at the engine's instant `now`; refuses with a typed `bad_signature`. */
export type RequestVerifier = (command: Command, at: { readonly now: Date }) => void;

type RegisteredKey = RequestSigningPolicy['keys'][number] & { publicKeyBytes: Uint8Array; fingerprint: string };

/**
 * Why a stored signature is `invalid`, in the verifier's own words: a key not in the policy (`unknown_key`, also a key
 * removed rather than retired) is not a forgery's `does_not_verify`, and an auditor must be able to tell them apart.
 */
export type InvalidSignatureReason =
  | 'unknown_key'
  | 'other_actor'
  | 'other_role'
  | 'retired'
  | 'other_audience'
  | 'bad_lifetime'
  | 'not_yet_valid'
  | 'expired'
  | 'does_not_verify';

/** What the stored re-check says of one event: its status and, when `invalid`, why. */
export type StoredSignature =
  | { readonly status: 'unsigned' | 'verified' }
  | { readonly status: 'invalid'; readonly reason: InvalidSignatureReason };

/** The reason each refusal of `checksOf` was made for; the engine's refusal itself stays the message it was. */
const reasons = new WeakMap<object, InvalidSignatureReason>();
const refuse = (reason: InvalidSignatureReason, message: string): CredenceError => {
  const error = badSignature(message);
  reasons.set(error, reason);
  return error;
};

/**
 * How long a request may live and the clock skew around it: the policy's own for the engine; for a stored re-check the
 * most any policy could have allowed (its `lastInstant` accepted, below). Admission already judged a stored request by
 * the policy of its day, so holding it to today's would turn a shorter `maxLifetimeSeconds` or `clockSkewSeconds` into
 * `invalid` on history that was genuinely signed; the maxima still refuse claims no engine could ever have accepted.
 */
interface Freshness {
  readonly maxLifetimeSeconds: number;
  readonly clockSkewSeconds: number;
  readonly lastInstant: 'refused' | 'accepted';
}
const STORED: Freshness = { maxLifetimeSeconds: MAX_REQUEST_LIFETIME_SECONDS, clockSkewSeconds: MAX_CLOCK_SKEW_SECONDS, lastInstant: 'accepted' };

/** The checks shared by the engine (at its clock's now) and the stored re-check (at the event's occurredAt). */
const checksOf = (policy: RequestSigningPolicy) => {
  const keys: RegisteredKey[] = policy.keys.map((k) => {
    const publicKeyBytes = fromBase64url(k.publicKey);
    return { ...k, publicKeyBytes, fingerprint: keyFingerprint(k.algorithm, publicKeyBytes) };
  });

  /**
   * The key authenticates an actor id and its roles: the actor the command claims must be exactly one of those. A key
   * retired at or before `at` signs nothing then: the engine refuses it, and a stored event it signed at or after that
   * instant (only a `retiredAt` set in the past, as for a key known compromised since, can leave one) is not verified.
   */
  const keyFor = (signature: RecordedRequestSignature, actor: Actor, at: Date): RegisteredKey => {
    const key = keys.find((k) => k.fingerprint === signature.keyFingerprint);
    if (key !== undefined && key.algorithm !== signature.algorithm) {
      // A fingerprint covers the key's algorithm (SPKI), so this is the label that is wrong, not the key unknown (review
      // 387). The reason stays `unknown_key` (no key of that fingerprint and algorithm is registered): what the stored
      // judgement said of such an event (none is accepted, so one is an altered record) stays what it said.
      throw refuse('unknown_key', `key ${signature.keyFingerprint} is registered for ${key.algorithm}, the signature says ${signature.algorithm}`);
    }
    if (key === undefined) {
      // Not "forged": a key removed from the policy reads the same. Hence rotation keeps the old key, retired.
      throw refuse(
        'unknown_key',
        `key ${signature.keyFingerprint} (${signature.algorithm}) is not registered: not in the request-signing policy ` +
          '(a retired key stays listed, with retiredAt, for what it signed to verify)',
      );
    }
    if (key.actorId !== actor.id) throw refuse('other_actor', `key ${signature.keyFingerprint} is registered for ${key.actorId}, not ${actor.id}`);
    if (!(key.roles as readonly string[]).includes(actor.role)) {
      throw refuse('other_role', `key ${signature.keyFingerprint} of ${key.actorId} is registered for the role(s) ${key.roles.join(', ')}, not ${actor.role}`);
    }
    if (key.retiredAt !== undefined && at.getTime() >= Date.parse(key.retiredAt)) {
      throw refuse('retired', `key ${signature.keyFingerprint} of ${key.actorId} was retired at ${key.retiredAt}, and signs nothing at ${at.toISOString()}`);
    }
    return key;
  };

  /**
   * Audience and lifetime, judged at `now`, with the clock skew on both ends: valid over [issuedAt - skew,
   * expiresAt + skew), its end exclusive as a JWT's `exp` (RFC 7519 section 4.1.4), a credential's and an
   * association's are. `lastInstant` is that end's own millisecond: the engine refuses it; a stored re-check accepts
   * it, because engines before review 26 accepted a request there and a verified event stays verified (no engine
   * accepts one there now, so nothing new is judged by it).
   */
  const checkClaims = (signature: RequestSignature, now: Date, freshness: Freshness): void => {
    const { maxLifetimeSeconds, clockSkewSeconds, lastInstant } = freshness;
    if (signature.audience !== policy.audience) {
      throw refuse('other_audience', `the request is addressed to ${signature.audience}, not to this deployment (${policy.audience})`);
    }
    const issued = Date.parse(signature.issuedAt);
    const expires = Date.parse(signature.expiresAt);
    const skew = clockSkewSeconds * 1000;
    if (!(expires > issued)) throw refuse('bad_lifetime', `expiresAt ${signature.expiresAt} is not after issuedAt ${signature.issuedAt}`);
    if (expires - issued > maxLifetimeSeconds * 1000) {
      throw refuse('bad_lifetime', `a lifetime of ${(expires - issued) / 1000} s is longer than this deployment allows (${maxLifetimeSeconds} s)`);
    }
    const at = now.getTime();
    if (at < issued - skew) throw refuse('not_yet_valid', `not yet valid: issued at ${signature.issuedAt}, after ${now.toISOString()} (clock skew allowed ${clockSkewSeconds} s)`);
    const expired = lastInstant === 'refused' ? at >= expires + skew : at > expires + skew;
    if (expired) throw refuse('expired', `expired at ${signature.expiresAt}, before ${now.toISOString()} (clock skew allowed ${clockSkewSeconds} s)`);
  };

  /**
   * Whether the signature verifies over one of `payloads` (the canonical form first). A P-256 value in a form never
   * accepted (high S, DER) is refused first, saying how to send it (review 387: a standard signer's high-S signature
   * read as a forgery). Its stored reason stays `does_not_verify`: no engine ever accepted one (verification has been
   * low-S, r||s only), so a stored event holding one is a record altered since, as that reason says; `high_s` and
   * `der_encoded` name the rule in the message.
   */
  const checkValue = (key: RegisteredKey, value: string, payloads: readonly Uint8Array[], what: string): void => {
    const bytes = tryFromBase64url(value);
    if (bytes !== undefined && KIND[key.algorithm] === 'p256') {
      const form = p256SignatureForm(bytes);
      if (form === 'high_s') {
        throw refuse('does_not_verify', `high_s: P-256 signatures must be low-S: replace s with n − s (the signature of ${key.actorId} over the ${what} has s > n/2)`);
      }
      if (form === 'der') {
        throw refuse('does_not_verify', `der_encoded: DER is not accepted: send the 64-byte r||s form (IEEE P1363), low-S (the signature of ${key.actorId} over the ${what})`);
      }
    }
    const ok = bytes !== undefined && payloads.some((payload) => verifySignature(KIND[key.algorithm], key.publicKeyBytes, payload, bytes));
    if (!ok) throw refuse('does_not_verify', `signature of ${key.actorId} does not verify over the canonical ${what}`);
  };

  /**
   * A version 2 signature: registered key for the actor and role, audience, lifetime at `now`, then the bytes. The
   * canonical form only for a new request; a stored event (`wholeData`) also over its whole data, the form its type
   * was signed in before the service's derived fields were left out (payload.ts, signingPayloadWholeData).
   */
  const verify = (
    command: SignedCommand & { metadata: { actor: Actor } }, signature: RequestSignature, now: Date, freshness: Freshness, wholeData = false,
  ): void => {
    const key = keyFor(signature, command.metadata.actor, now);
    checkClaims(signature, now, freshness);
    const before = wholeData ? signingPayloadWholeData(command, signature) : undefined;
    const payloads = [signingPayload(command, signature), ...(before !== undefined ? [before] : [])];
    checkValue(key, signature.value, payloads, `${command.type} command`);
  };

  /** A version 1 signature (stored events only): registered key for the actor and role, the version 1 bytes. */
  const verifyV1 = (command: SignedCommand & { metadata: { actor: Actor } }, signature: RecordedRequestSignature, at: Date): void => {
    const key = keyFor(signature, command.metadata.actor, at);
    checkValue(key, signature.value, [signingPayloadV1(command)], `${command.type} command (version 1)`);
  };

  return { verify, verifyV1 };
};

/**
 * The infrastructure actor (policy.ts) recording one of the procedures' commands: its id under its role, never the
 * id under another role (review 147), nor a command the procedures never send.
 */
const isInfrastructureCommand = (command: Command): boolean => {
  const { actor } = command.metadata;
  return actor.id === INFRASTRUCTURE_ACTOR_ID && actor.role === INFRASTRUCTURE_ACTOR_ROLE && INFRASTRUCTURE_COMMAND_TYPES.has(command.type);
};

/**
 * Engine side: the `verifyRequest` hook, given the engine clock's `now`. A command the policy requires to be
 * signed must carry a signature made with a key registered for its actor id and role, addressed to this
 * deployment, valid at `now`, over its canonical form; any other signature present is checked too, so a recorded
 * signature is always a valid one and the actor recorded is the one the key authenticates. Failures are typed
 * `bad_signature` errors naming the reason, and nothing is written.
 */
export const requestVerifier = (input: RequestSigningPolicyInput): RequestVerifier => {
  const policy = parseRequestSigningPolicy(input);
  const { verify } = checksOf(policy);
  const engineFreshness: Freshness = { maxLifetimeSeconds: policy.maxLifetimeSeconds, clockSkewSeconds: policy.clockSkewSeconds, lastInstant: 'refused' };
  const required = (command: Command): boolean =>
    !policy.exemptRoles.includes(command.metadata.actor.role) &&
    !isInfrastructureCommand(command) &&
    (policy.require === 'all' || (policy.require !== 'none' && policy.require.includes(command.type)));

  return (command, { now }) => {
    const signature = command.metadata.signature;
    if (signature === undefined) {
      if (required(command)) throw badSignature(`${command.type} must be signed by ${command.metadata.actor.id}`);
      return;
    }
    verify(command, signature, now, engineFreshness);
  };
};

/**
 * Re-checks the request signature recorded on a stored event (auditors, the audit trail): the event's command
 * type, data as recorded (not as decoded), actor, command id, correlation and causation ids against the signature in
 * its metadata, the registered keys (actor id, role, and `retiredAt`: a key retired after the event still verifies it) and the
 * deployment's audience. The lifetime is judged at the event's `occurredAt`, the instant the engine accepted it, and
 * by the maxima any policy allows rather than today's settings (STORED), so a verified event stays verified when the
 * policy is made stricter or a key retired. A key no longer in the policy at all is `invalid` (the status set has no
 * other word; the reason, `unknown_key`, says so): rotation retires a key rather than removing it. A version 1 signature (stored
 * before version 2) is `verified` only if it verifies under the version 1 bytes. The type, data, actor and ids
 * are the signed form of a new request (payload.ts: a `rotatePseudonym` without the pseudonym and epoch the service
 * derived, nor its trigger if `demand`), so what admission verified verifies here, and a signature over the node
 * alone verifies a demand rotation only (review 168); a rotation signed over its whole data before that verifies too.
 */
export const storedSignatureJudgement = (input: RequestSigningPolicyInput) => {
  const { verify, verifyV1 } = checksOf(parseRequestSigningPolicy(input));
  return (e: DecodedEvent): StoredSignature => {
    const signature = e.metadata.signature;
    if (signature === undefined) return { status: 'unsigned' };
    const { actor, commandId, correlationId, causationId } = e.metadata;
    // The data as the engine recorded it, which the actor signed (and the transparency leaf covers): not the decoded
    // `e.event.data`, lifted by the upcasters and stripped of members the schema does not name, which would read a
    // genuine signature on an older schema version, or on a member this build does not know, as a forgery (review 240).
    const recorded = { type: e.metadata.commandType, data: e.record.data, metadata: { actor, commandId, correlationId, causationId } };
    try {
      const at = new Date(e.at);
      if ('version' in signature) verify(recorded, signature, at, STORED, true);
      else verifyV1(recorded, signature, at);
      return { status: 'verified' };
    } catch (error) {
      // Every refusal of checksOf names its reason; one that did not would still not verify.
      if (isCredenceError(error, 'bad_signature')) return { status: 'invalid', reason: reasons.get(error) ?? 'does_not_verify' };
      throw error;
    }
  };
};

/** `storedSignatureJudgement`'s status alone, for the callers that show no reason (the words are the ones they were). */
export const storedSignatureCheck = (input: RequestSigningPolicyInput) => {
  const judge = storedSignatureJudgement(input);
  return (e: DecodedEvent): StoredSignature['status'] => judge(e).status;
};
