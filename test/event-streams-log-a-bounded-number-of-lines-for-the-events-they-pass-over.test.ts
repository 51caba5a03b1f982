import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { EventStore } from '../domain/ports/event-store.ts';
import { logPassedOver } from '../adapters/http/sse/passed-over.ts';
import type { PassedOver } from '../projections/streams/index.ts';

/*
 * Review 85, finding 6: the service remembered the last 10,000 positions it had logged, oldest forgotten first, so
 * with more undecodable events than that every stream catching up logged every one of them again (3 passes over
 * 10,001 events gave 30,003 warn lines). Each is now logged once while the memory has room; past it, a count.
 */

const EVENTS = 10_001;

const passed = (position: number): PassedOver => ({
  position: BigInt(position),
  streamId: `node-n${position}`,
  revision: 0n,
  type: 'NodeRegistered',
  reason: 'NodeRegistered is addressed to x but stored in somewhere',
  misplaced: true,
});

/** A logger that keeps what it is given at warn. */
const recording = (): { log: FastifyBaseLogger; lines: Record<string, unknown>[] } => {
  const lines: Record<string, unknown>[] = [];
  const log = { warn: (fields: Record<string, unknown>, msg: string) => lines.push({ ...fields, msg }) } as unknown as FastifyBaseLogger;
  return { log, lines };
};

describe('the log of the events the streams pass over', () => {
  it('has one line per event up to its memory, and a count past it, however many streams pass them', () => {
    const store = {} as EventStore;
    const { log, lines } = recording();
    let now = 0;
    for (let stream = 0; stream < 3; stream++) {
      // Each stream (a reconnect, another subscriber) passes over all of them from the start.
      const onPassedOver = logPassedOver(store, log, () => now);
      for (let position = 1; position <= EVENTS; position++) onPassedOver(passed(position));
    }
    const each = lines.filter((l) => l['msg'] === 'event stream passed over an event it cannot read');
    const counts = lines.filter((l) => l['msg'] === 'event streams passed over events they cannot read, not logged one by one');
    expect(each).toHaveLength(10_000);
    expect(new Set(each.map((l) => l['position'])).size).toBe(10_000);
    // The first event past the memory is said at once; the rest are counted until a minute has passed.
    expect(counts).toHaveLength(1);
    expect(counts[0]).toMatchObject({ passedOver: 1, firstPosition: '10001', lastPosition: '10001' });
    expect(lines.length).toBeLessThan(10_010);

    now += 60_000;
    logPassedOver(store, log, () => now)(passed(EVENTS + 1));
    expect(lines.at(-1)).toMatchObject({
      msg: 'event streams passed over events they cannot read, not logged one by one',
      // The two passes of 10,001 since the last count, and this one.
      passedOver: 3,
      lastPosition: String(EVENTS + 1),
    });
  });

  it('keeps each store apart', () => {
    const { log, lines } = recording();
    for (const store of [{} as EventStore, {} as EventStore]) logPassedOver(store, log)(passed(7));
    expect(lines.map((l) => l['position'])).toEqual(['7', '7']);
  });
});
