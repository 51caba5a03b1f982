import { z } from 'zod';
import { ClassPolicy, RotationPolicy } from '../../projections/pseudonyms/index.ts';

/** How long a node keeps a pseudonym when the `pseudonyms` setting does not say: a day. */
const DEFAULT_ROTATION_MS = 24 * 3_600_000;

/** One class's rotation in the service's setting: a field left out is the default's; `everyMs: null` is no interval. */
const ServiceClassPolicy = z.strictObject({
  // The library policy's bounds (a minute to ten years), so a setting is refused naming its field, never at start.
  everyMs: ClassPolicy.shape.everyMs.unwrap().nullable().optional(),
  onAssociation: z.boolean().optional(),
});
export const ServicePseudonyms = z.strictObject({
  default: ServiceClassPolicy.optional(),
  classes: z.record(z.string().min(1).max(64), ServiceClassPolicy).optional(),
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
