import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { isCredenceError } from '../../domain/errors.ts';
import { type JsonObject } from '../../domain/ports/index.ts';
import { type RecordedEvent } from '../../domain/ports/index.ts';
import { type EventToAppend } from '../../domain/ports/index.ts';

/**
 * Names unique to one test, so that the suite can share a live server with other runs and with data already
 * stored: streams and event types carry a random suffix, and no assertion assumes an empty store.
 */
export function uniqueNames(label: string): { stream: (name: string) => string; type: (name: string) => string; prefix: string } {
  const prefix = `conf_${label}_${randomUUID().replaceAll('-', '').slice(0, 16)}_`;
  return { prefix, stream: (name) => `${prefix}${name}`, type: (name) => `${name}_${prefix}` };
}

export const newEvent = (type: string, data: JsonObject = {}, metadata: JsonObject = {}): EventToAppend => ({
  id: randomUUID(),
  type,
  data,
  metadata,
});

export const newEvents = (type: string, count: number): EventToAppend[] =>
  Array.from({ length: count }, (_, i) => newEvent(type, { n: i }));

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

// A guard against a hanging subscription, so a broken store fails with a message instead of the test timeout.
// It bounds waiting, it asserts nothing about speed.
const HANG_GUARD_MS = 20_000;

export function nextWithin<T>(iterator: AsyncIterator<T>, what: string): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`subscription delivered nothing while waiting for ${what}`)), HANG_GUARD_MS);
  });
  return Promise.race([iterator.next(), guard]).finally(() => clearTimeout(timer));
}

export async function take(iterator: AsyncIterator<RecordedEvent>, count: number): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  while (out.length < count) {
    const result = await nextWithin(iterator, `event ${out.length + 1} of ${count}`);
    if (result.done) throw new Error(`subscription ended after ${out.length} of ${count} events`);
    out.push(result.value);
  }
  return out;
}

export const ids = (events: readonly { id: string }[]): string[] => events.map((e) => e.id);

export function expectStrictlyIncreasing(positions: readonly bigint[]): void {
  positions.slice(1).forEach((position, i) => expect(position > positions[i]!).toBe(true));
}

export async function expectConflict(attempt: Promise<unknown>, streamId: string): Promise<void> {
  const error = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCredenceError(error, 'concurrency_conflict'), `expected a concurrency conflict, got ${String(error)}`).toBe(true);
  if (isCredenceError(error) && error.problem.code === 'concurrency_conflict') {
    expect(error.problem.streamId).toBe(streamId);
  }
}
