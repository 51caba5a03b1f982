import { z } from 'zod';
import { CommandId, Instant } from './ids.ts';
import { Base64Url, Fingerprint } from './events/common.ts';
import { tryFromBase64url } from './crypto/base64url.ts';
import { p256SignatureForm } from './crypto/signatures.ts';

export const Role = z.enum(['operator', 'auditor', 'integrator', 'system']);
export type Role = z.infer<typeof Role>;

/**
 * The built-in system actors (process manager, expiry scheduler, pseudonym rotation). A command's role is what
 * its sender claims, so the engine accepts the `system` role only from these ids (or the ones it is configured
 * with): claiming `system` from outside grants nothing.
 */
export const SYSTEM_ACTOR_IDS = ['system:process-manager', 'system:expiry-scheduler', 'system:pseudonym-rotation'] as const;

/**
 * Actor ids with this prefix are reserved to the system actors: the engine refuses them under any other role
 * (adapters/engine/admission.ts), so an event never records an operator under an id that reads as the engine's.
 * Enforced at admission, not in the Actor schema below, which stored events share and must keep decoding.
 */
export const SYSTEM_ACTOR_PREFIX = 'system:';

export const Actor = z.object({
  id: z.string().min(1).max(200),
  role: Role,
});
export type Actor = z.infer<typeof Actor>;

/** Signature algorithms a request can be signed with. */
export const SignatureAlgorithm = z.enum(['ed25519', 'p256-ecdsa-sha256']);

/**
 * Ed25519 and compact P-256 ECDSA signatures are 64 bytes: 86 base64url characters. A P-256 signature in DER (at most
 * 72 bytes: 96 characters), what OpenSSL, Go and Java give by default, is told as that form before the length refuses
 * it as too big (review 387), and the length rule names the form to send.
 */
export const DER_SIGNATURE_REFUSED = 'DER is not accepted: send the 64-byte r||s form (IEEE P1363), low-S';
const SignatureValue = Base64Url.superRefine((value, ctx) => {
  if (value.length <= 86 || value.length > 96) return;
  const bytes = tryFromBase64url(value);
  if (bytes !== undefined && p256SignatureForm(bytes) === 'der') ctx.addIssue({ code: 'custom', message: DER_SIGNATURE_REFUSED, continue: false });
}).max(86, 'a signature is 64 bytes, 86 base64url characters: Ed25519, or P-256 as r||s (IEEE P1363), low-S');

/**
 * The actor's signature over the RFC 8785 canonical form of the command (SER-016 non-repudiation), version 2: the
 * signed bytes cover the command (type, data, actor, command id, correlation and causation ids) and these claims,
 * so a request is bound to one deployment (`audience`) and a bounded lifetime (`issuedAt` to `expiresAt`, at most
 * the policy's `maxLifetimeSeconds`). See domain/signing/request-signature.ts for the exact bytes.
 */
export const RequestSignature = z.strictObject({
  version: z.literal(2),
  algorithm: SignatureAlgorithm,
  keyFingerprint: Fingerprint,
  issuedAt: Instant,
  expiresAt: Instant,
  /** The deployment the request is for, as its signing policy names it (e.g. `credence:city-utilities`). */
  audience: z.string().min(1).max(200),
  value: SignatureValue,
});
export type RequestSignature = z.infer<typeof RequestSignature>;

/**
 * Version 1, recorded before request signatures carried claims (no `version` field): the signed bytes were the
 * command's type, data, actor and command id only. Never accepted on a new command; stored events keep decoding
 * and their signatures are re-checked under the version 1 rules (domain/signing/request-signature.ts).
 */
export const RequestSignatureV1 = z.strictObject({
  algorithm: SignatureAlgorithm,
  keyFingerprint: Fingerprint,
  value: SignatureValue,
});
export type RequestSignatureV1 = z.infer<typeof RequestSignatureV1>;

/** A signature as an event records it: the current version, or version 1 on events stored before it. */
export const RecordedRequestSignature = z.union([RequestSignature, RequestSignatureV1]);
export type RecordedRequestSignature = z.infer<typeof RecordedRequestSignature>;

/**
 * The API token a command came with, as the service that verified it records it (review 188): its id (`jti`, no
 * secret; never the bearer token itself) and who issued it: the issuer's subject for a token issued through the
 * service, `cli` for one made on the command line (by whoever may write the data folder). The OS account that made a
 * command-line token is kept only in access.db (`cli:<username>`), never here: the log is immutable and read by
 * operators and auditors, and exported in evidence bundles (review 189). An admin may issue a token under any
 * subject, so the actor's id alone does not tell one holder of a subject from another; and access.db forgets a token
 * 30 days after it expires, so the issuer is recorded here rather than left for a later lookup of the id. Beside
 * `actor`, not inside it: a request signature covers the actor's bytes (domain/signing/payload.ts), which stay as
 * they were. Only the service sets it (ExecuteOptions.token); a sender that names one is refused (CommandMetadata).
 */
export const RecordedToken = z.object({
  id: z.string().min(1).max(200),
  issuedBy: z.string().min(1).max(200),
  /**
   * The id of the token it was issued with (review 196), as access.db's `issued_with` names it: `issuedBy` is only a
   * subject, and an admin may issue an admin token under the real admin's subject and issue tokens with that one;
   * access.db forgets the issuing token 30 days after it expires. Absent for a token made on the command line (issued
   * with none) and on events recorded before.
   */
  issuedWith: z.string().min(1).max(200).optional(),
});
export type RecordedToken = z.infer<typeof RecordedToken>;

/**
 * Metadata every stored event carries. `schemaVersion` drives the upcasters on read. `token` is absent on events
 * recorded before review 188 and on commands that came with no token (the engine's own, the CLI's, a library's).
 */
export const EventMetadata = z.object({
  schemaVersion: z.number().int().positive(),
  actor: Actor,
  commandId: CommandId,
  commandType: z.string().min(1).max(64),
  correlationId: z.string().min(1).max(200),
  causationId: z.string().min(1).max(200),
  occurredAt: Instant,
  signature: RecordedRequestSignature.optional(),
  token: RecordedToken.optional(),
});
export type EventMetadata = z.infer<typeof EventMetadata>;
