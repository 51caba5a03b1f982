/**
 * RFC 8785 (JCS) canonical JSON, iterative: keys sorted by UTF-16 code units (section 3.2.3), numbers as ECMAScript
 * serialises them (3.2.2.3), strings escaped as JSON.stringify does (3.2.2.2). A recursive serialiser overflows the
 * stack on input nested a few thousand levels deep; this one is bounded by memory only, so hashing a stored event
 * (the transparency log) or a message never fails on its shape. Output equals the `canonicalize` package's on every
 * JSON value (test/crypto-canonical-json.test.ts); `toJSON` is called once per value and `undefined` members are
 * left out and `undefined` array items are null, like JSON.stringify. NaN, infinities, bigints, functions, symbols
 * and cycles are refused with a TypeError.
 */
/** A value to write, or literal text; `release` ends an object's or array's turn as an ancestor (cycle check). */
type Work = { readonly value: unknown } | { readonly text: string; readonly release?: object };

const scalar = (value: unknown): string => {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('value must be JSON-serialisable: NaN and infinities are not allowed');
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    default:
      throw new TypeError(`value must be JSON-serialisable: a ${typeof value} is not`);
  }
};

export const canonicalJson = (value: unknown): string => {
  const out: string[] = [];
  const work: Work[] = [{ value }];
  const ancestors = new Set<object>();
  while (work.length > 0) {
    const item = work.pop()!;
    if ('text' in item) {
      out.push(item.text);
      if (item.release !== undefined) ancestors.delete(item.release);
      continue;
    }
    let current = item.value;
    if (typeof current === 'object' && current !== null && typeof (current as { toJSON?: unknown }).toJSON === 'function') {
      current = (current as { toJSON: () => unknown }).toJSON();
    }
    if (typeof current !== 'object' || current === null) {
      out.push(scalar(current));
      continue;
    }
    if (ancestors.has(current)) throw new TypeError('value must be JSON-serialisable: it contains a cycle');
    ancestors.add(current);
    // Pushed in reverse: the stack pops them in order.
    if (Array.isArray(current)) {
      work.push({ text: ']', release: current });
      for (let i = current.length - 1; i >= 0; i--) {
        const element: unknown = current[i];
        work.push({ value: element === undefined || typeof element === 'symbol' ? null : element });
        if (i > 0) work.push({ text: ',' });
      }
      out.push('[');
      continue;
    }
    const record = current as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined && typeof record[key] !== 'symbol')
      .sort();
    work.push({ text: '}', release: current });
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      work.push({ value: record[key] });
      work.push({ text: `${i > 0 ? ',' : ''}${JSON.stringify(key)}:` });
    }
    out.push('{');
  }
  return out.join('');
};
