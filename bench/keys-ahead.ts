import { placeholderKey } from '../test/support/fleet.ts';

type Key = ReturnType<typeof placeholderKey>;

/**
 * Placeholder keys made before a timed window: making one is an Ed25519 point multiplication (some 100 µs), which
 * inside the window is the bench's own work counted as the engine's (the durable ratio halved that way, forty-fifth
 * round of docs/performance.md). A window is bounded by time, not count, so a name outside the pool is still made on
 * the spot and counted (`madeInWindow`), for the report to say.
 */
export const keysAhead = (names: Iterable<string>) => {
  const pool = new Map<string, Key>();
  for (const name of names) pool.set(name, placeholderKey(name));
  let madeInWindow = 0;
  return {
    key: (name: string): Key => {
      const made = pool.get(name);
      if (made !== undefined) return made;
      madeInWindow++;
      return placeholderKey(name);
    },
    get madeInWindow() {
      return madeInWindow;
    },
  };
};
