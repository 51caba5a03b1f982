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

/** The actor's signature over the RFC 8785 canonical form of the command (SER-016 non-repudiation). */
export const RequestSignature = z.object({
  algorithm: z.enum(['ed25519', 'p256-ecdsa-sha256']),
  keyFingerprint: Fingerprint,
  /** Ed25519 and compact P-256 ECDSA signatures are 64 bytes: 86 base64url characters. */
  value: Base64Url.max(86),
});
export type RequestSignature = z.infer<typeof RequestSignature>;

/** Metadata every stored event carries. `schemaVersion` drives the upcasters on read. */
export const EventMetadata = z.object({
  schemaVersion: z.number().int().positive(),
  actor: Actor,
  commandId: CommandId,
  commandType: z.string().min(1).max(64),
  correlationId: z.string().min(1).max(200),
  causationId: z.string().min(1).max(200),
  occurredAt: Instant,
  signature: RequestSignature.optional(),
});
export type EventMetadata = z.infer<typeof EventMetadata>;
