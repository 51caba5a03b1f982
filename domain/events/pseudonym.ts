import { z } from 'zod';
import { NodeId } from '../ids.ts';

/**
 * A node pseudonym (seed 004, trust and privacy; SER-011, SER-018, SER-025): `p-` and 26 lowercase base32
 * characters, the first 128 bits of HMAC-SHA256(key, Node-ID || epoch). It stands in for the canonical Node-ID
 * wherever other stakeholders can see it, and it changes with every epoch so that it cannot be correlated.
 */
export const Pseudonym = z
  .string()
  .max(28)
  .regex(/^p-[a-z2-7]{26}$/, 'pseudonym must be p- followed by 26 base32 characters')
  .brand<'Pseudonym'>();
export type Pseudonym = z.infer<typeof Pseudonym>;

/** What made a node take a new pseudonym: its first one, the interval, a new association, or an operator. */
export const RotationTrigger = z.enum(['initial', 'interval', 'association', 'demand']);
export type RotationTrigger = z.infer<typeof RotationTrigger>;

/** The node's current pseudonym from now on. Records the value and its epoch only: never the key it came from. */
export const PseudonymRotated = z.object({
  pseudonym: Pseudonym,
  nodeId: NodeId,
  epoch: z.number().int().min(0).max(2 ** 31),
  trigger: RotationTrigger,
});

/** An auditor learned which node stands behind a pseudonym; the actor is in the metadata, the why here. */
export const PseudonymResolved = z.object({
  pseudonym: Pseudonym,
  reason: z.string().min(1).max(500),
});

export const pseudonymEvents = {
  PseudonymRotated,
  PseudonymResolved,
} as const;
