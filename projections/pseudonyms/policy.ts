import { z } from 'zod';

/** How often one class of node changes pseudonym. On demand is always possible (an operator's `rotateNow`). */
export const ClassPolicy = z.strictObject({
  /** Rotate once the current pseudonym is this old (milliseconds), on the scheduler's tick. */
  everyMs: z.number().int().positive().optional(),
  /** Rotate whenever the node configures a new security association, so no two associations share a pseudonym. */
  onAssociation: z.boolean().default(false),
});
export type ClassPolicy = z.infer<typeof ClassPolicy>;

/**
 * Rotation policy per node profile class (the generic profile of seed 004 Initialization): a class that talks
 * to many parties (a smart meter broadcasting readings) rotates more often than a gateway. Parsed at the
 * configuration boundary.
 */
export const RotationPolicy = z.strictObject({
  default: ClassPolicy.default({ onAssociation: false }),
  classes: z.record(z.string().min(1).max(64), ClassPolicy).default({}),
});
export type RotationPolicy = z.infer<typeof RotationPolicy>;
export type RotationPolicyInput = z.input<typeof RotationPolicy>;

export const policyFor = (policy: RotationPolicy, profileClass: string): ClassPolicy =>
  Object.hasOwn(policy.classes, profileClass) ? policy.classes[profileClass]! : policy.default;
