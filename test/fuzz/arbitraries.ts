/**
 * Shared arbitraries of the fuzz suite: hostile values (wrong types, huge and unicode strings, NaN and impossible
 * dates, ids with path characters, `__proto__` / `constructor` / `prototype` own keys, deep and wide nesting) and
 * any input at all. Structured mutations of a legitimate input are in ./mutations.ts.
 *
 * Large values are generated as small recipes (`Big`, `Parsed`) and built only when applied, so that fast-check
 * prints a counterexample as `Big(string 'A' x 1048576)` rather than a megabyte of text.
 */
import fc from 'fast-check';

// ---------------------------------------------------------------------------------------------------- recipes

/** A value too large to print: a huge string, a deeply nested object, a wide array or object. */
export class Big {
  constructor(
    readonly shape: 'string' | 'nested' | 'wideArray' | 'wideObject',
    readonly size: number,
    readonly unit = 'A',
  ) {}
  build(): unknown {
    switch (this.shape) {
      case 'string':
        return this.unit.repeat(this.size);
      case 'nested': {
        let value: unknown = this.unit;
        for (let i = 0; i < this.size; i++) value = { a: value };
        return value;
      }
      case 'wideArray':
        return new Array(this.size).fill(this.unit);
      case 'wideObject':
        return Object.fromEntries(Array.from({ length: this.size }, (_, i) => [`k${i}`, this.unit]));
    }
  }
  [fc.toStringMethod](): string {
    return `Big(${this.shape} ${JSON.stringify(this.unit)} x ${this.size})`;
  }
}

/** A value made by JSON.parse, so that `__proto__` is an own property as it is in any parsed request. */
export class Parsed {
  constructor(readonly text: string) {}
  build(): unknown {
    return JSON.parse(this.text);
  }
  [fc.toStringMethod](): string {
    return `Parsed(${this.text})`;
  }
}

/** Builds recipes anywhere inside a generated value; everything else is returned as it is. */
export const materialize = (value: unknown): unknown => {
  if (value instanceof Big || value instanceof Parsed) return value.build();
  return value;
};

// ----------------------------------------------------------------------------------------------- hostile values

export const SPECIAL_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'then'] as const;

/** Prototype-pollution payloads, each parsed so that its special keys are own properties. */
export const POLLUTION = [
  '{"__proto__":{"role":"system","polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"__proto__":{"actor":{"id":"system:process-manager","role":"system"}}}',
  '{"prototype":{"role":"system"},"__proto__":null}',
  '{"__proto__":[]}',
  '{"__proto__":"system"}',
].map((text) => new Parsed(text));

/** Strings no id pattern should let into a stream id, a file name or a log line. */
export const PATHISH_IDS = [
  '../etc/passwd',
  '..',
  '.',
  'a/b',
  '/a/b',
  '//x',
  '/..',
  'meter-1/../meter-2',
  'meter-1\\..\\x',
  'C:\\x',
  '%2e%2e%2f',
  'a\u0000b',
  '\u0000',
  'meter-1\n',
  ' meter-1',
  'meter-1 ',
  'meter\u202e1',
  '\uff4deter-1',
  'meter-1\u200b',
  'x'.repeat(129),
  'x'.repeat(257),
  '',
  '-',
  'system:process-manager',
  '__proto__',
  'constructor',
];

/** Instants that are not: impossible, out of range, negative epoch, NaN, wrong types, offsets at the edge. */
export const HOSTILE_DATES: readonly unknown[] = [
  'NaN',
  '',
  'Invalid Date',
  '2026-02-30T00:00:00Z',
  '2026-02-29T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-06-30T23:59:60Z',
  '2026-01-01T24:00:00Z',
  '-000001-01-01T00:00:00.000Z',
  '-271821-04-20T00:00:00.000Z',
  '+275760-09-13T00:00:00.000Z',
  '+275760-09-13T00:00:00.001Z',
  '0000-01-01T00:00:00Z',
  '1969-12-31T23:59:59.999Z',
  '1970-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '2026-01-01T00:00:00+23:59',
  '2026-01-01T00:00:00-23:59',
  '2026-01-01T00:00:00+99:99',
  '2026-01-01T00:00:00.123456789Z',
  '2026-01-01',
  '2026-01-01T00:00:00',
  '2026-01-01 00:00:00Z',
  '２０２６-01-01T00:00:00Z',
  NaN,
  -1,
  0,
  Number.MAX_VALUE,
  -8.64e15,
  new Date(Number.NaN),
  new Date(-1),
  new Date('2026-01-01T00:00:00Z'),
];

const HOSTILE_NUMBERS: readonly unknown[] = [NaN, Infinity, -Infinity, -0, -1, 0.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, -(2 ** 31), 2 ** 31, 2 ** 64, 5e-324];

/** Values of every wrong type a JSON (or JavaScript) caller can send. */
const wrongType = fc.constantFrom<unknown>(
  null,
  undefined,
  true,
  false,
  0,
  1,
  '',
  [],
  {},
  [null],
  ['operator'],
  { length: 1 },
  1n,
  2n ** 70n,
  Symbol.for('credence-fuzz'),
  new Map([['a', 1]]),
  new Set([1]),
  new Uint8Array(4),
  () => 'a function',
  Object.create(null),
  ...HOSTILE_NUMBERS,
);

const bigValue = fc.oneof(
  fc.constantFrom(257, 4_097, 70_000, 1_048_577).chain((size) => fc.constantFrom('A', '💥', '\u0000', '/').map((unit) => new Big('string', size, unit))),
  fc.constantFrom(17, 33, 2_000, 100_000).map((depth) => new Big('nested', depth)),
  fc.constantFrom(4_097, 100_000).map((n) => new Big('wideArray', n, 'x')),
  fc.constant(new Big('wideObject', 5_000, 'x')),
);

/** Strings of every kind of unicode (lone surrogates, graphemes, controls) and of moderate length. */
export const unicodeString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
  fc.constantFrom('\ud800', '\udfff', 'a\ud800b', '\ufeff', '\u202e', 'e\u0301', '👩‍👩‍👧‍👦', 'İ', 'ß', '\r\n', '\t', '\u2028'),
);

/** Any JSON value (small), unicode included. */
export const jsonValue = fc.jsonValue({ maxDepth: 3, depthSize: 'small' });

/** A replacement value for a field: a wrong type, a hostile string, date, id, number, a large value or JSON. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: wrongType },
  { weight: 3, arbitrary: unicodeString },
  { weight: 2, arbitrary: fc.constantFrom(...PATHISH_IDS) },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_DATES) },
  { weight: 2, arbitrary: bigValue },
  { weight: 1, arbitrary: fc.constantFrom(...POLLUTION) },
  { weight: 2, arbitrary: jsonValue },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
);

/** Any input at all: JSON, JavaScript values a library caller could pass, recipes of large values. */
export const anyInput: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.json({ maxDepth: 4 }).map((text) => new Parsed(text)) },
  { weight: 2, arbitrary: jsonValue },
  {
    weight: 2,
    arbitrary: fc.anything({
      maxDepth: 3,
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
      withBoxedValues: true,
      withUnicodeString: true,
    }),
  },
  { weight: 1, arbitrary: hostileValue },
);

/** JSON as it would travel: what JSON.stringify keeps, parsed back (own `__proto__` keys stay own). */
export const overTheWire = (value: unknown): unknown => {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return text === undefined ? undefined : JSON.parse(text);
};

/** Snapshot of Object.prototype, to prove no input polluted it. */
export const prototypeFingerprint = (): string =>
  [Object.getOwnPropertyNames(Object.prototype).sort().join(','), String(({} as Record<string, unknown>)['role']), String(({} as Record<string, unknown>)['polluted'])].join('|');
