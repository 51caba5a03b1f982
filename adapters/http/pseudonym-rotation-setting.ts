import { z } from 'zod';
import { ClassPolicy, RotationPolicy, refuseClassNamedProto } from '../../projections/pseudonyms/index.ts';

/** How long a node keeps a pseudonym when the `pseudonyms` setting does not say: a day. */
const DEFAULT_ROTATION_MS = 24 * 3_600_000;

/** One class's rotation in the service's setting: a field left out is the default's; `everyMs: null` is no interval. */
const ServiceClassPolicy = z.strictObject({
  // The library policy's bounds (a minute to ten years), so a setting is refused naming its field, never at start.
  everyMs: ClassPolicy.shape.everyMs.unwrap().nullable().optional(),
  onAssociation: z.boolean().optional(),
});
const ClassRecord = z.record(z.string().min(1).max(64), ServiceClassPolicy);
/**
 * The classes a setting names. Found in review 281: a class named `__proto__` was accepted and gone (zod's record
 * parse skips that key, since assigning it to an object sets its prototype), so its nodes rotated on `default` while
 * the file said otherwise. Refused here, naming the key, rather than kept, by the check the library's RotationPolicy
 * makes (refuseClassNamedProto): no class needs that name. Other names of Object.prototype (`constructor`,
 * `prototype`, `toString`) are kept as any other: records keep them, and policyFor looks a class up as its own key.
 * Typed as the record it pipes to: the check before it reads the input as given and changes nothing. Any other name is
 * kept, including one no node has (a fleet may set a class before its first node): the start says each such class at
 * warn once the read models have caught up (review 434: a misspelt `gatway` kept gateways on `default` with no word;
 * start-setting-warnings.ts).
 */
const ServiceClasses = z
  .unknown()
  .superRefine(refuseClassNamedProto)
  .pipe(ClassRecord) as unknown as z.ZodType<z.output<typeof ClassRecord>, z.input<typeof ClassRecord>>;
export const ServicePseudonyms = z.strictObject({
  default: ServiceClassPolicy.optional(),
  classes: ServiceClasses.optional(),
});

/**
 * The rotation policy a `pseudonyms` setting means: every field it leaves out is the service default's (every node
 * daily, no rotation on association), so adding one class, or `onAssociation`, keeps every other node rotating (found
 * in review: a setting naming one class left every other node on its pseudonym for life). An interval is turned off
 * only by saying so (`"everyMs": null`).
 */
export const rotationPolicyOf = (setting: z.infer<typeof ServicePseudonyms>): RotationPolicy => {
  const fill = (p: z.infer<typeof ServiceClassPolicy> | undefined, base: { everyMs?: number; onAssociation: boolean }) => {
    const everyMs = p?.everyMs === undefined ? base.everyMs : (p.everyMs ?? undefined);
    return { ...(everyMs !== undefined ? { everyMs } : {}), onAssociation: p?.onAssociation ?? base.onAssociation };
  };
  const fallback = fill(setting.default, { everyMs: DEFAULT_ROTATION_MS, onAssociation: false });
  return RotationPolicy.parse({
    default: fallback,
    classes: Object.fromEntries(Object.entries(setting.classes ?? {}).map(([name, p]) => [name, fill(p, fallback)])),
  });
};
