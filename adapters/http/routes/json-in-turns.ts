import type { FastifyReply } from 'fastify';
import { ResponseSerializationError } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { Finding, Verdict } from './wire.ts';

/**
 * Items of a long array turned into JSON between two turns of the event loop: JSON.stringify of an evidence bundle at
 * the entity bound (12 MB) is one block of some 50 ms, and more on a busy machine (review 242).
 */
export const ITEMS_PER_TURN = 500;

const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** `items` mapped by `f`, ITEMS_PER_TURN at a time with a turn of the event loop between: rows converted for the wire. */
export const mapInTurns = async <T, U>(items: readonly T[], f: (item: T) => U): Promise<U[]> => {
  const out: U[] = [];
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % ITEMS_PER_TURN === 0) await turn();
    out.push(f(items[i]!));
  }
  return out;
};

/** `items` mapped by the asynchronous `f` one after another, with a turn of the event loop every ITEMS_PER_TURN. */
export const mapAsyncInTurns = async <T, U>(items: readonly T[], f: (item: T) => Promise<U>): Promise<U[]> => {
  const out: U[] = [];
  for (let i = 0; i < items.length; i++) {
    // Awaiting an answer at hand is a microtask, which lets no timer or I/O run: 20,000 of them were a block of 60 ms.
    if (i > 0 && i % ITEMS_PER_TURN === 0) await turn();
    out.push(await f(items[i]!));
  }
  return out;
};

/**
 * `value` encoded through `schema` as the route's serializer (fastify-type-provider-zod) encodes its answer, and
 * failing as it does (a 500): for an answer written past the serializer, piece by piece, so its bytes stay the same.
 */
export const encodedAs = <S extends z.ZodType>(reply: FastifyReply, schema: S, value: unknown): z.input<S> => {
  const result = schema.safeEncode(value as z.output<S>);
  if (!result.success) throw new ResponseSerializationError(reply.request.method, reply.request.url, { cause: result.error });
  return result.data;
};

/** The items of a long array of an answer, each made wire values by `wire` and encodedAs `schema`, ITEMS_PER_TURN at a time. */
export const encodedInTurns = <S extends z.ZodType, T>(reply: FastifyReply, schema: S, items: readonly T[], wire: (item: T) => unknown): Promise<z.input<S>[]> =>
  mapInTurns(items, (item) => encodedAs(reply, schema, wire(item)));

/**
 * A replay verdict (wire.ts Verdict) as the serializer of an answer carrying it encodes it, its findings in turns:
 * an entity at the bound may have one per event (10,000).
 */
export const verdictInTurns = async <F>(
  reply: FastifyReply,
  verdict: { readonly ok: true } | { readonly ok: false; readonly findings: readonly F[] },
  wire: (finding: F) => unknown,
): Promise<z.input<typeof Verdict>> => {
  if (verdict.ok) return encodedAs(reply, Verdict, verdict);
  // Its findings put in the place the union's encoding gives them (keeping the key order), encoded one by one.
  const findings = await encodedInTurns(reply, Finding, verdict.findings, wire);
  return { ...(encodedAs(reply, Verdict, { ...verdict, findings: [] }) as { ok: false }), findings };
};

/**
 * `value` as UTF-8 JSON, the bytes JSON.stringify gives (its keys in their order), with every array in it that is
 * not itself in an array written ITEMS_PER_TURN items at a time with a turn of the event loop between: for an
 * answer whose long arrays are not last or are nested (a replay's steps, then its verdict's findings).
 */
export const jsonBytesOfInTurns = async (value: unknown): Promise<Buffer> => {
  const parts: Buffer[] = [];
  const top = asJsonSees(value, '');
  // As JSON.stringify of a value it leaves out: nothing to write (its result is undefined).
  if (!leftOut(top)) await writeInTurns(top, parts);
  return Buffer.concat(parts);
};

/** What JSON.stringify writes for `value` under `key`: its toJSON's result, a boxed primitive's own value (review 255). */
const asJsonSees = (value: unknown, key: string): unknown => {
  const own = typeof (value as { toJSON?: unknown } | null)?.toJSON === 'function' ? (value as { toJSON: (key: string) => unknown }).toJSON(key) : value;
  return own instanceof String || own instanceof Number || own instanceof Boolean ? own.valueOf() : own;
};

/** A member JSON.stringify leaves out of an object. */
const leftOut = (value: unknown): boolean => value === undefined || typeof value === 'function' || typeof value === 'symbol';

const writeInTurns = async (value: unknown, parts: Buffer[]): Promise<void> => {
  if (Array.isArray(value)) {
    parts.push(Buffer.from('['));
    for (let i = 0; i < value.length; i += ITEMS_PER_TURN) {
      if (i > 0) await turn();
      const chunk = JSON.stringify(value.slice(i, i + ITEMS_PER_TURN)).slice(1, -1);
      parts.push(Buffer.from(i > 0 ? `,${chunk}` : chunk));
    }
    parts.push(Buffer.from(']'));
    return;
  }
  if (value === null || typeof value !== 'object') {
    parts.push(Buffer.from(JSON.stringify(value)));
    return;
  }
  let first = true;
  for (const [key, member] of Object.entries(value)) {
    const item = asJsonSees(member, key);
    if (leftOut(item)) continue;
    parts.push(Buffer.from(`${first ? '{' : ','}${JSON.stringify(key)}:`));
    first = false;
    await writeInTurns(item, parts);
  }
  parts.push(Buffer.from(first ? '{}' : '}'));
};

/**
 * `value` as UTF-8 JSON, its array `key` (written last) ITEMS_PER_TURN items at a time with a turn of the event loop
 * between (a macrotask: a microtask lets no timer or I/O run). JSON.parse of it gives what it would of
 * JSON.stringify(value). Bytes, not text: 12 MB of text joined, then encoded as the response is written and measured
 * by its hooks, were blocks of 40 to 100 ms each (review 242); bytes are copied once and their length is known.
 */
export const jsonBytesInTurns = async <K extends string>(value: { readonly [P in K]: readonly unknown[] }, key: K): Promise<Buffer> => {
  const { [key]: items, ...rest } = value;
  return jsonBytesOfInTurns({ ...rest, [key]: items });
};

/**
 * Sends `value` as JSON written in turns (jsonBytesInTurns), past the route's serializer: a long answer built here
 * from parsed records, encoded again item by item through its response schema (kept for the OpenAPI document), was
 * most of the block (review 242). Returns the reply, which tells Fastify the answer is sent; typed as the value so
 * that the route's answer keeps its type.
 */
export const sendJsonInTurns = async <K extends string, T extends { readonly [P in K]: readonly unknown[] }>(reply: FastifyReply, value: T, key: K): Promise<T> => {
  const bytes = await jsonBytesInTurns(value, key);
  return reply.type('application/json; charset=utf-8').send(bytes) as unknown as T;
};

/** Sends `value` as JSON written in turns (jsonBytesOfInTurns), past the route's serializer, as sendJsonInTurns does. */
export const sendJsonOfInTurns = async <T>(reply: FastifyReply, value: T): Promise<T> => {
  const bytes = await jsonBytesOfInTurns(value);
  return reply.type('application/json; charset=utf-8').send(bytes) as unknown as T;
};
