import { describe, expect, it, vi } from 'vitest';
import { bodyShapeIssue } from '../adapters/http/json-body-shape.ts';
import { jsonLimitIssue, type JsonLimits } from '../domain/json-limits.ts';

/*
 * SER-001: an HTTP body's depth and value count are judged on its text before it is parsed (review: a deep or wide body
 * cost 50 to 300 ms of JSON.parse before its 400). The text's verdict must be the parsed value's: what the walk
 * refuses, the scan refuses with the same rule, path and words; what the walk keeps, the scan keeps.
 */
const LIMITS: JsonLimits = { maxDepth: 4, maxValues: 20 };

describe('the shape of a JSON body judged on its text', () => {
  it.each([
    ['a chain of objects one level too deep', `${'{"a":'.repeat(5)}1${'}'.repeat(5)}`],
    ['a chain of arrays one level too deep, after siblings', '[1,[2,3,[4,[5,[6]]]]]'],
    ['a wide array', JSON.stringify(Array.from({ length: 30 }, (_, i) => i))],
    ['a wide object under a name', JSON.stringify({ x: 1, list: Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`k${i}`, i])) })],
    ['a long name on the path', JSON.stringify({ ['n'.repeat(100)]: [[[[1]]]] })],
    ['an escaped name on the path', '{"\\u0061b":[[[[1]]]]}'],
    ['brackets, quotes and escapes inside strings', JSON.stringify({ s: '[[[[{{{{"\\', t: ['"]]]]', '\\"[['], u: [[[[0]]]] })],
    ['whitespace between every token', JSON.stringify({ a: [1, { b: [[2]] }] }, null, 3).replace(/\n/g, '\r\n\t')],
  ])('%s: refused as the walk of the parsed value refuses it', (_case, text) => {
    const walked = jsonLimitIssue(JSON.parse(text), LIMITS);
    expect(bodyShapeIssue(text, LIMITS)).toEqual(walked);
  });

  it('keeps a body exactly at the limits, as the walk does', () => {
    const deepest = `${'{"a":'.repeat(3)}[1]${'}'.repeat(3)}`;
    const widest = JSON.stringify(Array.from({ length: 19 }, (_, i) => i));
    for (const text of [deepest, widest, '{}', '[]', '"[[[[[["', '12', 'null', ' { "a" : [ ] } ']) {
      expect(jsonLimitIssue(JSON.parse(text), LIMITS)).toBeUndefined();
      expect(bodyShapeIssue(text, LIMITS)).toBeUndefined();
    }
  });

  it('gives the walk\'s verdict on a thousand random JSON values, laid out in any way', () => {
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
    const value = (depth: number): unknown => {
      const kind = depth > 6 ? random(3) : random(5);
      if (kind === 0) return random(2) === 0 ? random(1000) - 500 : null;
      if (kind === 1) return ['', 'x', '[{', '"}]', '\\', 'é,:'][random(6)];
      if (kind === 2) return random(2) === 0;
      if (kind === 3) return Array.from({ length: random(6) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: random(6) }, (_, i) => [['k', '"', '\\[', ''][random(4)]! + i, value(depth + 1)]));
    };
    for (let round = 0; round < 1000; round++) {
      const parsed = value(1);
      const text = JSON.stringify(parsed, null, random(3));
      const limits = { maxDepth: 1 + random(6), maxValues: 1 + random(40) };
      const walked = jsonLimitIssue(parsed, limits);
      const scanned = bodyShapeIssue(text, limits);
      expect({ text, limits, refused: scanned !== undefined }).toEqual({ text, limits, refused: walked !== undefined });
      // Where a value breaks only one of the two limits, the scan names the same one as the walk.
      if (scanned !== undefined) {
        if (jsonLimitIssue(parsed, { ...limits, maxValues: Number.MAX_SAFE_INTEGER }) === undefined) expect(scanned.rule).toBe('max_values');
        if (jsonLimitIssue(parsed, { ...limits, maxDepth: Number.MAX_SAFE_INTEGER }) === undefined) expect(scanned.rule).toBe('max_depth');
      }
    }
  });

  it('reads a refused body no further than its breach', () => {
    // A body with a breach up front and text that is not JSON after it: the verdict comes before the scan reaches it.
    expect(bodyShapeIssue(`[[[[[ ${'"'.repeat(1)}`, LIMITS)).toMatchObject({ path: '0.0.0.0', rule: 'max_depth' });
    expect(bodyShapeIssue(`${'['.repeat(5)}, not JSON at all`, { maxDepth: 4, maxValues: 1_000 })).toMatchObject({ rule: 'max_depth' });
  });
});

describe('member names that reach a prototype', () => {
  const forbidden = (path: string) => ({ path, rule: 'forbidden_name', message: expect.stringContaining('__proto__') });

  it.each([
    ['__proto__ at the top', '{"__proto__":{}}', '__proto__'],
    ['__proto__ deep in an array', '{"a":[1,{"b":{"__proto__":null}}]}', 'a.1.b.__proto__'],
    ['__proto__ written with escapes', '{"data":{"\\u005f_proto__":1}}', 'data.__proto__'],
    ['constructor holding prototype', '{"data":{"constructor":{"x":1,"prototype":{}}}}', 'data.constructor.prototype'],
  ])('%s: refused with its path', (_case, text, path) => {
    expect(bodyShapeIssue(text, { maxDepth: 16, maxValues: 4096 })).toEqual(forbidden(path));
  });

  it.each([
    '{"constructor":1,"prototype":2}',
    '{"constructor":[{"prototype":1}]}',
    '{"proto":"__proto__","x":{"__proto":1,"__proto___":2}}',
    '["__proto__",{"a":"constructor"}]',
  ])('keeps a body whose names only look alike: %s', (text) => {
    expect(bodyShapeIssue(text, { maxDepth: 16, maxValues: 4096 })).toBeUndefined();
  });

  it('reads a long escaped name once, not again for each member under it (review 77: quadratic, seconds unasked)', () => {
    const members = Array.from({ length: 4_000 }, () => '"prototype":0').join(',');
    const text = `{"${'a'.repeat(75_000)}\\n":{${members}}}`;
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(bodyShapeIssue(text, { maxDepth: 16, maxValues: 8_192 })).toBeUndefined();
      // No name longer than six characters per character of `constructor` or `prototype` is unescaped to compare it.
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
    expect(bodyShapeIssue('{"\\u0063onstructor":{"prototype":1}}', { maxDepth: 16, maxValues: 4096 })).toMatchObject({ path: 'constructor.prototype', rule: 'forbidden_name' });
  });
});
