/** Decimal digits of a safe integer's magnitude, with its sign: what JSON.stringify writes for it. */
const integerLength = (n: number): number => {
  let digits = n < 0 ? 2 : 1;
  for (let m = Math.abs(n); m >= 10; m = Math.floor(m / 10)) digits += 1;
  return digits;
};

/**
 * The length of `JSON.stringify(value)` without building the string, for the entity cache's estimate of an entry's
 * bytes (entity-cache.ts): it ran once per command on every context and was one of the larger costs left on the
 * command path. Exact for JSON without characters JSON escapes (quotes, backslashes, control characters: one or five
 * more each there, which an estimate can ignore); a non-integer number is measured by formatting it.
 */
export const jsonLength = (value: unknown): number => {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
      return Number.isSafeInteger(value) ? integerLength(value) : Number.isFinite(value) ? String(value).length : 4;
    case 'boolean':
      return value ? 4 : 5;
    case 'object': {
      if (value === null) return 4;
      // A Date or anything else with its own JSON form: measured by formatting it (contexts hold instants as numbers).
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(value)?.length ?? 0;
      if (Array.isArray(value)) {
        let length = 2 + Math.max(0, value.length - 1);
        for (const item of value) length += item === undefined || typeof item === 'function' ? 4 : jsonLength(item);
        return length;
      }
      let length = 2;
      let members = 0;
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue;
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
        length += key.length + 3 + jsonLength(item);
        members += 1;
      }
      return length + Math.max(0, members - 1);
    }
    default:
      return 0;
  }
};
