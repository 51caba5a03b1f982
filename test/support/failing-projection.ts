import type { Projection } from '../../projections/runtime/index.ts';

/** `healthy`, whose `apply` throws `message` right after applying its `nth` event (and only that one). */
export const failingOnApply = (healthy: Projection, nth: number, message: string): Projection => {
  let applied = 0;
  return {
    ...healthy,
    apply(d, e) {
      healthy.apply!(d, e);
      if (++applied === nth) throw new Error(message);
    },
  };
};
