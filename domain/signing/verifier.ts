import { badSignature, isCredenceError } from '../errors.ts';
import type { DecodedEvent } from '../stored.ts';
import type { Command } from '../commands/index.ts';
import type { Actor, RecordedRequestSignature, RequestSignature } from '../metadata.ts';
import { fromBase64url, tryFromBase64url, verifySignature } from '../crypto/index.ts';
import { signingPayload, signingPayloadV1, type SignedCommand } from './payload.ts';
import { parseRequestSigningPolicy, type RequestSigningPolicy, type RequestSigningPolicyInput } from './policy.ts';
import { KIND, keyFingerprint } from './request-signature.ts';

/** Checks a command's request signature at the engine's instant `now`; refuses with a typed `bad_signature`. */
export type RequestVerifier = (command: Command, at: { readonly now: Date }) => void;

type RegisteredKey = RequestSigningPolicy['keys'][number] & { publicKeyBytes: Uint8Array; fingerprint: string };

/** The checks shared by the engine (at its clock's now) and the stored re-check (at the event's occurredAt). */
const checksOf = (policy: RequestSigningPolicy) => {
  const keys: RegisteredKey[] = policy.keys.map((k) => {
    const publicKeyBytes = fromBase64url(k.publicKey);
    return { ...k, publicKeyBytes, fingerprint: keyFingerprint(k.algorithm, publicKeyBytes) };
  });

  /** The key authenticates an actor id and its roles: the actor the command claims must be exactly one of those. */
  const keyFor = (signature: RecordedRequestSignature, actor: Actor): RegisteredKey => {
    const key = keys.find((k) => k.fingerprint === signature.keyFingerprint && k.algorithm === signature.algorithm);
    if (key === undefined) throw badSignature(`key ${signature.keyFingerprint} (${signature.algorithm}) is not registered`);
    if (key.actorId !== actor.id) throw badSignature(`key ${signature.keyFingerprint} is registered for ${key.actorId}, not ${actor.id}`);
    if (!(key.roles as readonly string[]).includes(actor.role)) {
      throw badSignature(`key ${signature.keyFingerprint} of ${key.actorId} is registered for the role(s) ${key.roles.join(', ')}, not ${actor.role}`);
    }
    return key;
  };

  /**
   * Audience and lifetime, judged at `now`, with the policy's clock skew on both ends: valid over [issuedAt - skew,
   * expiresAt + skew), its end exclusive as a JWT's `exp` (RFC 7519 section 4.1.4), a credential's and an
   * association's are. `lastInstant` is that end's own millisecond: the engine refuses it; a stored re-check accepts
   * it, because engines before review 26 accepted a request there and a verified event stays verified (no engine
   * accepts one there now, so nothing new is judged by it).
   */
  const checkClaims = (signature: RequestSignature, now: Date, lastInstant: 'refused' | 'accepted'): void => {
    if (signature.audience !== policy.audience) {
      throw badSignature(`the request is addressed to ${signature.audience}, not to this deployment (${policy.audience})`);
    }
    const issued = Date.parse(signature.issuedAt);
    const expires = Date.parse(signature.expiresAt);
    const skew = policy.clockSkewSeconds * 1000;
    if (!(expires > issued)) throw badSignature(`expiresAt ${signature.expiresAt} is not after issuedAt ${signature.issuedAt}`);
    if (expires - issued > policy.maxLifetimeSeconds * 1000) {
      throw badSignature(`a lifetime of ${(expires - issued) / 1000} s is longer than this deployment allows (${policy.maxLifetimeSeconds} s)`);
    }
    const at = now.getTime();
    if (at < issued - skew) throw badSignature(`not yet valid: issued at ${signature.issuedAt}, after ${now.toISOString()} (clock skew allowed ${policy.clockSkewSeconds} s)`);
    const expired = lastInstant === 'refused' ? at >= expires + skew : at > expires + skew;
    if (expired) throw badSignature(`expired at ${signature.expiresAt}, before ${now.toISOString()} (clock skew allowed ${policy.clockSkewSeconds} s)`);
  };

  const checkValue = (key: RegisteredKey, value: string, payload: Uint8Array, what: string): void => {
    const bytes = tryFromBase64url(value);
    const ok = bytes !== undefined && verifySignature(KIND[key.algorithm], key.publicKeyBytes, payload, bytes);
    if (!ok) throw badSignature(`signature of ${key.actorId} does not verify over the canonical ${what}`);
  };

  /** A version 2 signature: registered key for the actor and role, audience, lifetime at `now`, then the bytes. */
  const verify = (
    command: SignedCommand & { metadata: { actor: Actor } }, signature: RequestSignature, now: Date, lastInstant: 'refused' | 'accepted',
  ): void => {
    const key = keyFor(signature, command.metadata.actor);
    checkClaims(signature, now, lastInstant);
    checkValue(key, signature.value, signingPayload(command, signature), `${command.type} command`);
  };

  /** A version 1 signature (stored events only): registered key for the actor and role, the version 1 bytes. */
  const verifyV1 = (command: SignedCommand & { metadata: { actor: Actor } }, signature: RecordedRequestSignature): void => {
    const key = keyFor(signature, command.metadata.actor);
    checkValue(key, signature.value, signingPayloadV1(command), `${command.type} command (version 1)`);
  };

  return { verify, verifyV1 };
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
  const required = (command: Command): boolean =>
    !policy.exemptRoles.includes(command.metadata.actor.role) &&
    (policy.require === 'all' || (policy.require !== 'none' && policy.require.includes(command.type)));

  return (command, { now }) => {
    const signature = command.metadata.signature;
    if (signature === undefined) {
      if (required(command)) throw badSignature(`${command.type} must be signed by ${command.metadata.actor.id}`);
      return;
    }
    verify(command, signature, now, 'refused');
  };
};

/**
 * Re-checks the request signature recorded on a stored event (auditors, the audit trail): the event's command
 * type, data, actor, command id, correlation and causation ids against the signature in its metadata, the
 * registered keys (actor id and role) and the deployment's audience. The lifetime is judged at the event's
 * `occurredAt`, the instant the engine accepted it, so a verified event stays verified. A version 1 signature
 * (stored before version 2) is `verified` only if it verifies under the version 1 bytes.
 */
export const storedSignatureCheck = (input: RequestSigningPolicyInput) => {
  const { verify, verifyV1 } = checksOf(parseRequestSigningPolicy(input));
  return (e: DecodedEvent): 'unsigned' | 'verified' | 'invalid' => {
    const signature = e.metadata.signature;
    if (signature === undefined) return 'unsigned';
    const { actor, commandId, correlationId, causationId } = e.metadata;
    const recorded = { type: e.metadata.commandType, data: e.event.data, metadata: { actor, commandId, correlationId, causationId } };
    try {
      if ('version' in signature) verify(recorded, signature, new Date(e.at), 'accepted');
      else verifyV1(recorded, signature);
      return 'verified';
    } catch (error) {
      if (isCredenceError(error, 'bad_signature')) return 'invalid';
      throw error;
    }
  };
};
