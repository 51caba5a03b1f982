import type { RequestSignature } from '../metadata.ts';
import { publicKeyFingerprint, sign, signingPublicKey, toBase64url } from '../crypto/index.ts';
import { signingPayload, type SignedCommand } from './payload.ts';
import { MAX_REQUEST_LIFETIME_SECONDS } from './policy.ts';

export const KIND = { ed25519: 'ed25519', 'p256-ecdsa-sha256': 'p256' } as const;
export type Algorithm = RequestSignature['algorithm'];

export const keyFingerprint = (algorithm: Algorithm, publicKey: Uint8Array): string =>
  publicKeyFingerprint(KIND[algorithm], publicKey);

/** Who a signed request is for and how long it is valid, from the signer's side. */
export interface SigningOptions {
  /** The deployment the request is for: the `audience` of its signing policy. */
  readonly audience: string;
  /** Now, on the signer's clock. */
  readonly issuedAt: Date;
  /** How long the request stays valid, at most 600 s (and at most the deployment's `maxLifetimeSeconds`). */
  readonly lifetimeSeconds: number;
}

const checkOptions = ({ audience, issuedAt, lifetimeSeconds }: SigningOptions): void => {
  if (typeof audience !== 'string' || audience.length === 0 || audience.length > 200) {
    throw new TypeError('signCommand: options.audience must be a string of 1 to 200 characters');
  }
  if (!(issuedAt instanceof Date) || Number.isNaN(issuedAt.getTime())) throw new TypeError('signCommand: options.issuedAt must be a valid Date');
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds < 1 || lifetimeSeconds > MAX_REQUEST_LIFETIME_SECONDS) {
    throw new RangeError(`signCommand: options.lifetimeSeconds must be an integer from 1 to ${MAX_REQUEST_LIFETIME_SECONDS}`);
  }
};

/**
 * Client side: signs a command input (which must already carry its command id) for one deployment, valid from
 * `issuedAt` for `lifetimeSeconds`. Correlation and causation ids, when the command has them, must be set before.
 */
export const signCommand = <C extends SignedCommand & { metadata: Record<string, unknown> }>(
  command: C,
  key: { algorithm: Algorithm; secretKey: Uint8Array },
  options: SigningOptions,
): C & { metadata: C['metadata'] & { signature: RequestSignature } } => {
  if (typeof command.metadata['commandId'] !== 'string') throw new TypeError('signCommand: command.metadata.commandId is required');
  checkOptions(options);
  const claims = {
    issuedAt: options.issuedAt.toISOString(),
    expiresAt: new Date(options.issuedAt.getTime() + options.lifetimeSeconds * 1000).toISOString(),
    audience: options.audience,
  };
  const publicKey = signingPublicKey(KIND[key.algorithm], key.secretKey);
  const value = sign(KIND[key.algorithm], key.secretKey, signingPayload(command, claims));
  const signature: RequestSignature = {
    version: 2,
    algorithm: key.algorithm,
    keyFingerprint: keyFingerprint(key.algorithm, publicKey),
    ...claims,
    value: toBase64url(value),
  };
  return { ...command, metadata: { ...command.metadata, signature } };
};
