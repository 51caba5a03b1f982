import { z } from 'zod';
import { CommandId, Instant } from './ids.ts';
import { Base64Url, Fingerprint } from './events/common.ts';

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

/** Ed25519 and compact P-256 ECDSA signatures are 64 bytes: 86 base64url characters. */
const SignatureValue = Base64Url.max(86);

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

/** Metadata every stored event carries. `schemaVersion` drives the upcasters on read. */
export const EventMetadata = z.object({
  schemaVersion: z.number().int().positive(),
  actor: Actor,
  commandId: CommandId,
  commandType: z.string().min(1).max(64),
  correlationId: z.string().min(1).max(200),
  causationId: z.string().min(1).max(200),
  occurredAt: Instant,
  signature: RecordedRequestSignature.optional(),
});
export type EventMetadata = z.infer<typeof EventMetadata>;
