import { describe, expect, it } from 'vitest';
import { ITEMS_PER_TURN, jsonBytesInTurns, jsonBytesOfInTurns, mapAsyncInTurns, mapInTurns } from '../adapters/http/routes/json-in-turns.ts';

/*
 * The long answers (an entity's replay and state at the bound, timelines, evidence bundles, compliance pages) are
 * converted and encoded ITEMS_PER_TURN items at a time with a macrotask between (review 242 and its follow-up): a
 * microtask lets no timer or I/O run. Counted, not timed: how many times a setImmediate chain gets the loop while the
 * work runs, which is as many as the work yields, whatever the machine's speed, and none for work done in one block.
 */
const turnsDuring = async <T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> => {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    const value = await work();
    return { value, turns };
  } finally {
    running = false;
  }
};

const ITEMS = 10_000;
const items = Array.from({ length: ITEMS }, (_, i) => ({ revision: String(i), type: 'NodeRegistered', nested: [{ i }] }));
const fewest = ITEMS / ITEMS_PER_TURN - 1;

describe('long answers are made in turns of the event loop', () => {
  it('writes the bytes JSON.stringify would, nested arrays included, letting the loop turn between chunks', async () => {
    const value = { streamId: 'node-gw', steps: items, verdict: { ok: false, findings: items.slice(0, 3) }, tail: null };
    const { value: bytes, turns } = await turnsDuring(() => jsonBytesOfInTurns(value));
    expect(bytes.toString('utf8')).toBe(JSON.stringify(value));
    expect(turns).toBeGreaterThanOrEqual(fewest);
  });

  it('maps items, awaited or not, letting the loop turn every ITEMS_PER_TURN', async () => {
    const mapped = await turnsDuring(() => mapInTurns(items, (x) => x.revision));
    expect(mapped.value).toEqual(items.map((x) => x.revision));
    expect(mapped.turns).toBeGreaterThanOrEqual(fewest);
    // Each awaited item resolves at once (a microtask): only the turns taken let the loop run.
    const awaited = await turnsDuring(() => mapAsyncInTurns(items, async (x) => x.type));
    expect(awaited.value).toHaveLength(ITEMS);
    expect(awaited.turns).toBeGreaterThanOrEqual(fewest);
  });

  it('counts no turn for the same work done in one block, which is what the counting tells apart', async () => {
    const { turns } = await turnsDuring(async () => JSON.stringify(items));
    expect(turns).toBeLessThanOrEqual(1);
  });

  it('writes what JSON.stringify writes for members it treats apart: toJSON, undefined from toJSON, boxed primitives (review 255)', async () => {
    const value = {
      at: new Date('2026-12-06T00:00:00Z'),
      gone: { toJSON: () => undefined },
      keyed: { toJSON: (key: string) => `under ${key}` },
      text: new String('ab'),
      count: new Number(3),
      flag: new Boolean(false),
      nothing: undefined,
      list: [new String('x'), { toJSON: () => undefined }, items[0]],
      bytes: Buffer.from('hi'),
    };
    expect((await jsonBytesOfInTurns(value)).toString('utf8')).toBe(JSON.stringify(value));
    expect((await jsonBytesOfInTurns({ toJSON: () => ({ whole: [1, 2] }) })).toString('utf8')).toBe('{"whole":[1,2]}');
  });

  it('writes a value with its long array moved last, as JSON.stringify would write it so, letting the loop turn', async () => {
    const answer = { streamId: 'node-gw', entries: items, tail: [1, 2] };
    const { value: bytes, turns } = await turnsDuring(() => jsonBytesInTurns(answer, 'entries'));
    expect(bytes.toString('utf8')).toBe(JSON.stringify({ streamId: 'node-gw', tail: [1, 2], entries: items }));
    expect(turns).toBeGreaterThanOrEqual(fewest);
  });
});
