import { z } from 'zod';

/**
 * The shortest rotation interval, a minute (review 119: `everyMs: 1` was taken, and every tick rotated every node,
 * each rotation a permanent event), and the longest, ten years (longer is no rotation: say so with no interval).
 */
export const MIN_ROTATION_MS = 60_000;
export const MAX_ROTATION_MS = 10 * 365 * 24 * 3_600_000;

/** How often one class of node changes pseudonym. On demand is always possible (an operator's `rotateNow`). */
export const ClassPolicy = z.strictObject({
  /**
   * Rotate every node of the class at each multiple of this interval (milliseconds) from the Unix epoch, on the
   * scheduler's first tick at or past it: those whose pseudonym was taken before it, together in one batch, whenever
   * each was registered (review 326). A node's first pseudonym is kept until the next such boundary, less than one
   * interval.
   */
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

const ClassRecord = z.record(z.string().min(1).max(64), ClassPolicy);
/**
 * The classes, refused when one is named `__proto__`: zod's record parse skips that key (assigning it to an object
 * sets its prototype), so a policy built from parsed JSON lost the class without a word and its nodes rotated on
 * `default`. The service's setting refuses it too (adapters/http/pseudonym-rotation-setting.ts); this catches a policy
 * built outside it. Other names of Object.prototype (`constructor`, `prototype`) are kept: records keep them, and
 * policyFor looks a class up as its own key. The check reads the input as given and returns it unchanged, so the
 * input type stays the record's.
 */
export const refuseClassNamedProto = (classes: unknown, context: z.RefinementCtx): void => {
  if (typeof classes === 'object' && classes !== null && Object.hasOwn(classes, '__proto__')) {
    context.addIssue({
      code: 'custom',
      path: ['__proto__'],
      params: { rule: 'reserved_name' },
      message: '"__proto__" cannot name a class: JavaScript objects reserve it, and a class of that name would be dropped (its nodes rotating on `default`)',
    });
  }
};
const Classes = z.preprocess<unknown, typeof ClassRecord, z.input<typeof ClassRecord>>((classes, context) => {
  refuseClassNamedProto(classes, context);
  return classes;
}, ClassRecord);

/**
 * Rotation policy per node profile class (the generic profile of seed 004 Initialization): a class that talks
 * to many parties (a smart meter broadcasting readings) rotates more often than a gateway. Parsed at the
 * configuration boundary.
 */
export const RotationPolicy = z.strictObject({
  default: ClassPolicy.default({ onAssociation: false }),
  classes: Classes.default({}),
});
export type RotationPolicy = z.infer<typeof RotationPolicy>;
export type RotationPolicyInput = z.input<typeof RotationPolicy>;

export const policyFor = (policy: RotationPolicy, profileClass: string): ClassPolicy =>
  Object.hasOwn(policy.classes, profileClass) ? policy.classes[profileClass]! : policy.default;
