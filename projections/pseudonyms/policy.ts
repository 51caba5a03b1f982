import { z } from 'zod';

/**
 * The shortest rotation interval, a minute (review 119: `everyMs: 1` was taken, and every tick rotated every node,
 * each rotation a permanent event), and the longest, ten years (longer is no rotation: say so with no interval).
 */
export const MIN_ROTATION_MS = 60_000;
export const MAX_ROTATION_MS = 10 * 365 * 24 * 3_600_000;

/** How often one class of node changes pseudonym. On demand is always possible (an operator's `rotateNow`). */
export const ClassPolicy = z.strictObject({
  /** Rotate once the current pseudonym is this old (milliseconds), on the scheduler's tick. */
  everyMs: z
    .number()
    .int()
    .min(MIN_ROTATION_MS, { error: `must be at least ${MIN_ROTATION_MS} ms (a minute): each rotation is a permanent event` })
    .max(MAX_ROTATION_MS, { error: `must be at most ${MAX_ROTATION_MS} ms (ten years)` })
    .optional(),
  /**
   * Rotate whenever the node configures a new security association, so no two associations share a pseudonym. Each
   * such rotation is recorded right after the AssociationConfigured that caused it, which names the node: the roles
   * that read positions (compliance `actions` of system:pseudonym-rotation) can link it to the node, until rotations on
   * association are recorded in keyed-order rounds (review 232; docs/service.md, "Pseudonyms on the read side").
   */
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
