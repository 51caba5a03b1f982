import { z } from 'zod';
import { COMMAND_TYPES, type CommandType } from '../commands/index.ts';
import { Role } from '../metadata.ts';
import { base64urlString } from '../crypto/index.ts';

/** A public key an actor signs requests with (SER-016): registered by configuration, never a private key. */
export const ActorKey = z.object({
  actorId: z.string().min(1).max(200),
  algorithm: z.enum(['ed25519', 'p256-ecdsa-sha256']),
  publicKey: base64urlString(),
});
export type ActorKey = z.infer<typeof ActorKey>;

/** Which commands must carry a request signature, and the keys that may make them. */
export const RequestSigningPolicy = z.object({
  require: z.union([z.literal('all'), z.literal('none'), z.array(z.enum(COMMAND_TYPES as [CommandType, ...CommandType[]]))]).default('none'),
  /** Roles whose commands need no signature (the process manager and scheduler act on signed causes). */
  exemptRoles: z.array(Role).default(['system']),
  keys: z.array(ActorKey).default([]),
});
export type RequestSigningPolicy = z.infer<typeof RequestSigningPolicy>;
export type RequestSigningPolicyInput = z.input<typeof RequestSigningPolicy>;
