import { z } from 'zod';
import { COMMAND_TYPES, type CommandType } from '../commands/index.ts';
import { validationError } from '../errors.ts';
import { Instant } from '../ids.ts';
import { assertJsonWithin } from '../json-limits.ts';
import { Role, SignatureAlgorithm } from '../metadata.ts';
import {
  base64urlString,
  checkPublicKey,
  INVALID_PUBLIC_KEY_RULE,
  SMALL_ORDER_KEY_RULE,
  toHex,
  tryFromBase64urlOfLength,
  type SignatureKind,
} from '../crypto/index.ts';

const PUBLIC_KEY_LENGTH = { ed25519: 32, 'p256-ecdsa-sha256': 65 } as const;
type Algorithm = z.infer<typeof SignatureAlgorithm>;
const KIND_OF: Record<Algorithm, SignatureKind> = { ed25519: 'ed25519', 'p256-ecdsa-sha256': 'p256' };

/** The rules a public key breaks that is no point of its curve, or one of small order: checkPublicKey's (review 201). */
export { INVALID_PUBLIC_KEY_RULE, SMALL_ORDER_KEY_RULE };
/** The rule a `require` entry that names no command type breaks. */
export const UNKNOWN_COMMAND_TYPE_RULE = 'unknown_command_type';

/**
 * Why `publicKey` (of the right length) cannot verify a signature: not a point of its curve in its one encoding, or an
 * Ed25519 point of small order, which the strict verification (domain/crypto/signatures.ts, zip215 off) refuses
 * whatever it signed. Review 182: such a key was registered, and every command it signed was then refused as a bad
 * signature. The one decision on a public key (domain/crypto/public-key.ts) says which rule it breaks.
 */
const unusableKey = (algorithm: Algorithm, publicKey: Uint8Array): { rule: string; message: string } | undefined => {
  const checked = checkPublicKey(KIND_OF[algorithm], publicKey);
  return checked.ok ? undefined : { rule: checked.rule, message: checked.message };
};

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
    /**
     * From this instant on the key signs nothing new (the engine refuses it), while what it signed before stays
     * `verified`: a rotation adds the new key and sets this on the old one, rather than removing it, which would
     * leave its history with no key to verify against.
     */
    retiredAt: Instant.optional(),
  })
  // Checked here so that a key of the wrong length is a configuration error, not an exception at fingerprinting, and
  // a key no signature can verify under is one too, not a refusal of every command it signs.
  .superRefine((k, ctx) => {
    const bytes = tryFromBase64urlOfLength(k.publicKey, PUBLIC_KEY_LENGTH[k.algorithm]);
    const issue =
      bytes === undefined
        ? { rule: 'custom', message: 'public key length does not fit the algorithm (Ed25519 32 bytes, P-256 uncompressed 65 bytes)' }
        : unusableKey(k.algorithm, bytes);
    if (issue !== undefined) ctx.addIssue({ code: 'custom', path: ['publicKey'], params: { rule: issue.rule }, message: issue.message });
  });
export type ActorKey = z.infer<typeof ActorKey>;

/** The rule a second entry of one public key breaks: only the first would ever be checked, the second never. */
export const DUPLICATE_KEY_RULE = 'duplicate_key';

/**
 * The actor the Enrolment Function and the Registrar CSE record what they do under (adapters/http/start.ts). It holds
 * no key: what it records rests on the device's proofs, recorded with it (receipts, transcripts), as the system
 * actors' commands rest on their signed causes. So no policy requires its signature. Exempt as this id under its
 * role together, not by the role alone (`operator`), which would exempt every human operator, nor by the id under any
 * role. Only the procedures claim the id: over HTTP it is a reserved token subject
 * (adapters/http/auth/reserved-subjects.ts), and the engine refuses it to every `execute`, admitting it only through
 * `executeAsInfrastructure`, their in-process path (adapters/engine/admission.ts; review 147: a library caller
 * recorded unsigned commands under `require: 'all'` by claiming it).
 */
export const INFRASTRUCTURE_ACTOR_ID = 'maf:infrastructure';
/** The role the infrastructure actor acts under, the only one its exemption and its engine path admit. */
export const INFRASTRUCTURE_ACTOR_ROLE = 'operator';
/**
 * What the Enrolment Function and the Registrar CSE record (adapters/protocols/procedures): pre-provisioning, remote
 * provisioning (and the revocation of a credential a refused provisioning issued), rotation, the association
 * handshake. Their exemption and their engine path hold for these alone, so neither records an unsigned command of
 * another kind (a subscription's end, a node's revocation) under a policy that requires it.
 */
export const INFRASTRUCTURE_COMMAND_TYPES: ReadonlySet<CommandType> = new Set<CommandType>([
  'registerNode',
  'issueCredential',
  'provisionCredential',
  'revokeCredential',
  'startCredentialRotation',
  'configureAssociation',
  'establishAssociation',
]);

const KNOWN_COMMAND_TYPES: ReadonlySet<string> = new Set(COMMAND_TYPES);
/** Longer than any command type's name, so an entry of `require` is bounded before it is named as unknown. */
const COMMAND_TYPE_MAX_LENGTH = 100;

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
  /**
   * `all`, `none`, or the command types that must be signed. Each type is checked apart from the union, so an unknown
   * one is named with its index (review 182: `["revokeNode", "fooBar"]` was refused only as `require: Invalid input`).
   */
  require: z
    .union([z.literal('all'), z.literal('none'), z.array(z.string().max(COMMAND_TYPE_MAX_LENGTH)).max(COMMAND_TYPES.length)], {
      error: 'must be "all", "none" or a list of command types',
    })
    .superRefine((require, ctx) => {
      if (typeof require === 'string') return;
      require.forEach((type, i) => {
        if (KNOWN_COMMAND_TYPES.has(type)) return;
        ctx.addIssue({
          code: 'custom',
          path: [i],
          params: { rule: UNKNOWN_COMMAND_TYPE_RULE },
          message: `${JSON.stringify(type)} is not a command type (they are ${COMMAND_TYPES.join(', ')})`,
        });
      });
    })
    .transform((require) => require as 'all' | 'none' | CommandType[])
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
  /** Each public key once: the verifier finds a key by its fingerprint, so a second entry would never be checked. */
  keys: z
    .array(ActorKey)
    .max(MAX_KEYS)
    .default([])
    .superRefine((keys, ctx) => {
      const first = new Map<string, number>();
      keys.forEach((k, i) => {
        const bytes = tryFromBase64urlOfLength(k.publicKey, PUBLIC_KEY_LENGTH[k.algorithm]);
        if (bytes === undefined) return;
        const id = `${k.algorithm}:${toHex(bytes)}`;
        const earlier = first.get(id);
        if (earlier === undefined) {
          first.set(id, i);
          return;
        }
        ctx.addIssue({
          code: 'custom',
          path: [i, 'publicKey'],
          params: { rule: DUPLICATE_KEY_RULE },
          message: `the same public key as keys.${earlier}: one key is one entry (its actor id, roles and retiredAt); a second would never be checked`,
        });
      });
    }),
  /** The longest lifetime (expiresAt - issuedAt) a signed request may claim. */
  maxLifetimeSeconds: z.number().int().min(1).max(MAX_REQUEST_LIFETIME_SECONDS).default(300),
  /** Tolerated difference between the signer's clock and the engine's, on both ends of the lifetime. */
  clockSkewSeconds: z.number().int().min(0).max(MAX_CLOCK_SKEW_SECONDS).default(60),
});
export type RequestSigningPolicy = z.infer<typeof RequestSigningPolicy>;
export type RequestSigningPolicyInput = z.input<typeof RequestSigningPolicy>;

/** A custom issue's own rule (`duplicate_key`) where it names one, else zod's code. */
const ruleOf = (issue: z.core.$ZodIssue): string =>
  issue.code === 'custom' && typeof issue.params?.['rule'] === 'string' ? issue.params['rule'] : issue.code;

/**
 * Parses a request-signing policy from configuration: beyond the JSON limits (SER-001) or not a policy, it is a
 * `validation` error naming the limit or every bad field.
 */
export const parseRequestSigningPolicy = (input: unknown): RequestSigningPolicy => {
  assertJsonWithin(input, 'request-signing policy');
  const parsed = RequestSigningPolicy.safeParse(input);
  if (parsed.success) return parsed.data;
  throw validationError(
    parsed.error.issues.map((i) => ({ path: i.path.join('.'), rule: ruleOf(i), message: i.message })),
    'request-signing policy',
  );
};
