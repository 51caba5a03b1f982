/** A map or set of a fold to fill, the one it copies, and how to copy a value (as it is, without). */
export type CopyStep = [Map<unknown, unknown> | Set<unknown>, Map<unknown, unknown> | Set<unknown>, ((v: unknown) => unknown)?];

/** Fills each map and set of an empty fold from the one it copies, in one go. */
export const fillFold = (steps: readonly CopyStep[]): void => {
  for (const [target, source, clone = (v: unknown) => v] of steps) {
    if (target instanceof Set) for (const key of source as Set<unknown>) target.add(key);
    else for (const [key, value] of source as Map<unknown, unknown>) target.set(key, clone(value));
  }
};

/**
 * The same fill, a slice of entries at a time with `pause()` awaited between slices: a fleet's fold holds hundreds of
 * thousands of entries (identities.ts `copyPausing`). The source must not change while it is copied.
 */
export const fillFoldPausing = async (steps: readonly CopyStep[], pause: () => Promise<unknown>, entriesPerSlice: number): Promise<void> => {
  let copied = 0;
  const step = async (): Promise<void> => {
    if (++copied % entriesPerSlice === 0) await pause();
  };
  const fill = async <K, V>(target: Map<K, V> | Set<K>, source: Map<K, V> | Set<K>, clone: (v: V) => V = (v) => v): Promise<void> => {
    if (target instanceof Set) {
      for (const key of source as Set<K>) {
        target.add(key);
        await step();
      }
      return;
    }
    for (const [key, value] of source as Map<K, V>) {
      target.set(key, clone(value));
      await step();
    }
  };
  for (const [target, source, clone] of steps) await fill(target, source, clone);
};
