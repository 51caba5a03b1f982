import { badSignature, isCredenceError } from '../errors.ts';
import type { DecodedEvent } from '../stored.ts';
import type { Command } from '../commands/index.ts';
import type { RequestSignature } from '../metadata.ts';
import { canonicalJson, fromBase64url, publicKeyFingerprint, sign, signingPublicKey, toBase64url, tryFromBase64url, utf8, verifySignature } from '../crypto/index.ts';
import { parseRequestSigningPolicy, type RequestSigningPolicyInput } from './policy.ts';

const KIND = { ed25519: 'ed25519', 'p256-ecdsa-sha256': 'p256' } as const;
type Algorithm = RequestSignature['algorithm'];

/**
 * The bytes an actor signs: the RFC 8785 canonical JSON of what the command asks (type, data) and who asks under
 * which id (actor, command id). Exactly these are recorded in the event, so anyone can re-check a stored
 * signature; the command id inside means a signed request cannot be replayed under another id. Correlation and
 * causation ids are tracing, not the request, and are left out.
 */
export const signingPayload = (command: { type: string; data: unknown; metadata: Record<string, unknown> }): Uint8Array =>
  utf8(canonicalJson({ type: command.type, data: command.data, actor: command.metadata['actor'], commandId: command.metadata['commandId'] }));

export const keyFingerprint = (algorithm: Algorithm, publicKey: Uint8Array): string =>
  publicKeyFingerprint(KIND[algorithm], publicKey);

/** Client side: signs a command input (which must already carry its command id). */
export const signCommand = <C extends { type: string; data: unknown; metadata: Record<string, unknown> }>(
  command: C,
  key: { algorithm: Algorithm; secretKey: Uint8Array },
): C & { metadata: C['metadata'] & { signature: RequestSignature } } => {
  if (typeof command.metadata['commandId'] !== 'string') throw new TypeError('signCommand: command.metadata.commandId is required');
  const publicKey = signingPublicKey(KIND[key.algorithm], key.secretKey);
  const value = sign(KIND[key.algorithm], key.secretKey, signingPayload(command));
  const signature: RequestSignature = {
    algorithm: key.algorithm,
    keyFingerprint: keyFingerprint(key.algorithm, publicKey),
    value: toBase64url(value),
  };
  return { ...command, metadata: { ...command.metadata, signature } };
};

/**
 * Engine side: the `verifyRequest` hook. A command the policy requires to be signed must carry a signature made
 * with a key registered for its actor over its canonical form; any other signature present is checked too, so
 * a recorded signature is always a valid one. Failures are typed `bad_signature` errors and nothing is written.
 */
export const requestVerifier = (input: RequestSigningPolicyInput) => {
  const policy = parseRequestSigningPolicy(input);
  const keys = policy.keys.map((k) => {
    const publicKey = fromBase64url(k.publicKey);
    return { ...k, publicKeyBytes: publicKey, fingerprint: keyFingerprint(k.algorithm, publicKey) };
  });
  const required = (command: Command): boolean =>
    !policy.exemptRoles.includes(command.metadata.actor.role) &&
    (policy.require === 'all' || (policy.require !== 'none' && policy.require.includes(command.type)));

  return (command: Command): void => {
    const signature = command.metadata.signature;
    if (signature === undefined) {
      if (required(command)) throw badSignature(`${command.type} must be signed by ${command.metadata.actor.id}`);
      return;
    }
    const key = keys.find((k) => k.fingerprint === signature.keyFingerprint && k.algorithm === signature.algorithm);
    if (key === undefined) throw badSignature(`key ${signature.keyFingerprint} (${signature.algorithm}) is not registered`);
    if (key.actorId !== command.metadata.actor.id) {
      throw badSignature(`key ${signature.keyFingerprint} is registered for ${key.actorId}, not ${command.metadata.actor.id}`);
    }
    const value = tryFromBase64url(signature.value);
    const ok = value !== undefined && verifySignature(KIND[key.algorithm], key.publicKeyBytes, signingPayload(command), value);
    if (!ok) throw badSignature(`signature of ${command.metadata.actor.id} does not verify over the canonical ${command.type} command`);
  };
};

/**
 * Re-checks the request signature recorded on a stored event (auditors, the audit trail): the event's command
 * type, data, actor and command id against the signature in its metadata and the registered keys.
 */
export const storedSignatureCheck = (input: RequestSigningPolicyInput) => {
  const verify = requestVerifier({ ...parseRequestSigningPolicy(input), require: 'none' });
  return (e: DecodedEvent): 'unsigned' | 'verified' | 'invalid' => {
    if (e.metadata.signature === undefined) return 'unsigned';
    try {
      verify({ type: e.metadata.commandType, data: e.event.data, metadata: { commandId: e.metadata.commandId, actor: e.metadata.actor, signature: e.metadata.signature } } as unknown as Command);
      return 'verified';
    } catch (error) {
      if (isCredenceError(error, 'bad_signature')) return 'invalid';
      throw error;
    }
  };
};
