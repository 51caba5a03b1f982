import type { Follower } from './live-followers.ts';

export const later = (a: bigint | undefined, b: bigint | undefined): bigint | undefined => (a === undefined ? b : b === undefined || a >= b ? a : b);

/** The position every follower has handled, undefined while one has handled none. */
export const handledByAll = (followers: readonly Follower[]): bigint | undefined => {
  let least: bigint | undefined;
  for (const f of followers) {
    if (f.handledThrough === undefined) return undefined;
    if (least === undefined || f.handledThrough < least) least = f.handledThrough;
  }
  return least;
};

/** The followers named, or all. A name that is no component is a mistake: it must not read as "caught up". */
export const among = (
  followers: readonly Follower[],
  byName: ReadonlyMap<string, Follower>,
  components: readonly string[] | undefined,
): readonly Follower[] => {
  if (components === undefined) return followers;
  const unknown = components.filter((name) => !byName.has(name));
  if (unknown.length > 0) throw new RangeError(`components: ${unknown.join(', ')} is no live component (${followers.map((f) => f.name).join(', ')})`);
  return followers.filter((f) => components.includes(f.name));
};
