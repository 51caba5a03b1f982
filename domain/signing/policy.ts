import { z } from 'zod';
import { COMMAND_TYPES, type CommandType } from '../commands/index.ts';
import { validationError } from '../errors.ts';
import { assertJsonWithin } from '../json-limits.ts';
import { Role } from '../metadata.ts';
import { base64urlString, tryFromBase64urlOfLength } from '../crypto/index.ts';

const PUBLIC_KEY_LENGTH = { ed25519: 32, 'p256-ecdsa-sha256': 65 } as const;

/** A public key an actor signs requests with (SER-016): registered by configuration, never a private key. */
export const ActorKey = z
  .object({
    actorId: z.string().min(1).max(200),
    algorithm: z.enum(['ed25519', 'p256-ecdsa-sha256']),
    publicKey: base64urlString({ max: PUBLIC_KEY_LENGTH['p256-ecdsa-sha256'] }),
  })
  // Checked here so that a key of the wrong length is a configuration error, not an exception at fingerprinting.
  .refine((k) => tryFromBase64urlOfLength(k.publicKey, PUBLIC_KEY_LENGTH[k.algorithm]) !== undefined, {
    message: 'public key length does not fit the algorithm (Ed25519 32 bytes, P-256 uncompressed 65 bytes)',
    path: ['publicKey'],
  });
export type ActorKey = z.infer<typeof ActorKey>;

/** Registered keys: every actor of a large deployment, with room for rollovers (and within a 1 MiB policy file). */
const MAX_KEYS = 4_096;

/** Which commands must carry a request signature, and the keys that may make them. */
export const RequestSigningPolicy = z.object({
  require: z
    .union([z.literal('all'), z.literal('none'), z.array(z.enum(COMMAND_TYPES as [CommandType, ...CommandType[]])).max(COMMAND_TYPES.length)])
    .default('none'),
  /** Roles whose commands need no signature (the process manager and scheduler act on signed causes). */
  exemptRoles: z.array(Role).max(Role.options.length).default(['system']),
  keys: z.array(ActorKey).max(MAX_KEYS).default([]),
});
export type RequestSigningPolicy = z.infer<typeof RequestSigningPolicy>;
export type RequestSigningPolicyInput = z.input<typeof RequestSigningPolicy>;

/**
 * Parses a request-signing policy from configuration: beyond the JSON limits (SER-001) or not a policy, it is a
 * `validation` error naming the limit or every bad field.
 */
export const parseRequestSigningPolicy = (input: unknown): RequestSigningPolicy => {
  assertJsonWithin(input, 'request-signing policy');
  const parsed = RequestSigningPolicy.safeParse(input);
  if (parsed.success) return parsed.data;
  throw validationError(
    parsed.error.issues.map((i) => ({ path: i.path.join('.'), rule: i.code, message: i.message })),
    'request-signing policy',
  );
};
