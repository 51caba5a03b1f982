import type { FastifyReply } from 'fastify';

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

/**
 * `value` as UTF-8 JSON, its array `key` (written last) ITEMS_PER_TURN items at a time with a turn of the event loop
 * between (a macrotask: a microtask lets no timer or I/O run). JSON.parse of it gives what it would of
 * JSON.stringify(value). Bytes, not text: 12 MB of text joined, then encoded as the response is written and measured
 * by its hooks, were blocks of 40 to 100 ms each (review 242); bytes are copied once and their length is known.
 */
export const jsonBytesInTurns = async <K extends string>(value: { readonly [P in K]: readonly unknown[] }, key: K): Promise<Buffer> => {
  const { [key]: items, ...rest } = value;
  const head = JSON.stringify(rest).slice(0, -1);
  const parts: Buffer[] = [Buffer.from(`${head}${head === '{' ? '' : ','}${JSON.stringify(key)}:[`)];
  for (let i = 0; i < items.length; i += ITEMS_PER_TURN) {
    if (i > 0) await turn();
    const chunk = JSON.stringify(items.slice(i, i + ITEMS_PER_TURN)).slice(1, -1);
    parts.push(Buffer.from(i > 0 ? `,${chunk}` : chunk));
  }
  parts.push(Buffer.from(']}'));
  return Buffer.concat(parts);
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
