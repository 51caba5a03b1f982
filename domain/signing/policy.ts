import { z } from 'zod';
import { COMMAND_TYPES, type CommandType } from '../commands/index.ts';
import { validationError } from '../errors.ts';
import { assertJsonWithin } from '../json-limits.ts';
import { Role, SignatureAlgorithm } from '../metadata.ts';
import { base64urlString, tryFromBase64urlOfLength } from '../crypto/index.ts';

const PUBLIC_KEY_LENGTH = { ed25519: 32, 'p256-ecdsa-sha256': 65 } as const;

/** A key's roles: those its actor holds. Never `system`: the engine's own actors act in process, unsigned. */
const KeyRole = Role.exclude(['system']);

/**
 * A public key an actor signs requests with (SER-016): registered by configuration, never a private key. The key
 * authenticates the actor id *and* the roles it may act in: a request signed with it must claim this actor id and
 * one of these roles. Strict: an unknown field (a misspelt `roles`, a `tenant` this version does not enforce) is a
 * configuration error, not silently dropped. Tenants will be bound here when tenancy exists (the service issue).
 */
export const ActorKey = z
  .strictObject({
    actorId: z.string().min(1).max(200),
    roles: z.array(KeyRole).min(1).max(KeyRole.options.length)
      .refine((roles) => new Set(roles).size === roles.length, { message: 'roles must not repeat' }),
    algorithm: SignatureAlgorithm,
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

/** The longest a signed request may be valid for (issuedAt to expiresAt), whatever a policy says: 10 minutes. */
export const MAX_REQUEST_LIFETIME_SECONDS = 600;
/** The most clock difference between signer and engine a policy may tolerate: 5 minutes. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

/**
 * Which commands must carry a request signature, the keys that may make them, the deployment they must be
 * addressed to (`audience`) and how long a signed request stays valid. Strict, like its keys.
 */
export const RequestSigningPolicy = z.strictObject({
  /** This deployment, as signers name it in a request's `audience` (e.g. `credence:city-utilities`). */
  audience: z.string().min(1).max(200),
  require: z
    .union([z.literal('all'), z.literal('none'), z.array(z.enum(COMMAND_TYPES as [CommandType, ...CommandType[]])).max(COMMAND_TYPES.length)])
    .default('none'),
  /**
   * Roles whose commands need no signature. `system` always is, whatever is listed: the process manager, the
   * scheduler and pseudonym rotation act on signed causes and hold no key, so a policy without it would stop every
   * cascade, expiry and rotation at its first command.
   */
  exemptRoles: z
    .array(Role)
    .max(Role.options.length)
    .default(['system'])
    .transform((roles) => (roles.includes('system') ? roles : ['system' as const, ...roles])),
  keys: z.array(ActorKey).max(MAX_KEYS).default([]),
  /** The longest lifetime (expiresAt - issuedAt) a signed request may claim. */
  maxLifetimeSeconds: z.number().int().min(1).max(MAX_REQUEST_LIFETIME_SECONDS).default(300),
  /** Tolerated difference between the signer's clock and the engine's, on both ends of the lifetime. */
  clockSkewSeconds: z.number().int().min(0).max(MAX_CLOCK_SKEW_SECONDS).default(60),
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
