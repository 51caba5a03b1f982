import { describe, expect, it } from 'vitest';
import type { FastifyBaseLogger } from 'fastify';
import { newerEventLog } from '../adapters/http/sse/newer-event-log.ts';
import { NewerEventError } from '../projections/streams/index.ts';

/*
 * Review 86, finding 2: every stream that ended before an event a newer version wrote logged a warn line, and so did
 * every reconnect (the console's once a minute, for as long as the server is not upgraded): unbounded, unlike the
 * pass-over log. Now one line per event per process, and past REMEMBERED events a count at most once a minute.
 */

const recorder = (): { log: FastifyBaseLogger; lines: { fields: Record<string, unknown>; msg: string }[] } => {
  const lines: { fields: Record<string, unknown>; msg: string }[] = [];
  const log = { warn: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }) } as unknown as FastifyBaseLogger;
  return { log, lines };
};

const newer = (position: bigint): NewerEventError =>
  new NewerEventError(position, 'node-n1', 2n, 'NodeRegistered', 'NodeRegistered v99 is newer than this build knows (v2)');

describe('the warn line for a stream ended before an event a newer version wrote', () => {
  it('is written once per event, however many streams and reconnects end there', () => {
    const { log, lines } = recorder();
    const logNewer = newerEventLog(() => 0);
    for (let i = 0; i < 50; i++) logNewer(log, newer(3n));
    logNewer(log, newer(9n));
    expect(lines.map((l) => [l.msg, l.fields['position']])).toEqual([
      ['event stream ended before an event a newer version wrote, which this version cannot read', '3'],
      ['event stream ended before an event a newer version wrote, which this version cannot read', '9'],
    ]);
    expect(lines[0]!.fields).toMatchObject({ streamId: 'node-n1', revision: '2', type: 'NodeRegistered', reason: expect.stringContaining('v99') });
  });

  it('past the events it remembers, is a count at most once a minute, not a line per stream', () => {
    const { log, lines } = recorder();
    let now = 0;
    const logNewer = newerEventLog(() => now, 3);
    for (const p of [1n, 2n, 3n]) logNewer(log, newer(p));
    expect(lines).toHaveLength(3);
    for (let i = 0; i < 100; i++) logNewer(log, newer(4n + BigInt(i % 5)));
    expect(lines).toHaveLength(4);
    // A count at the first, then nothing for the 99 within the minute.
    expect(lines[3]!.fields).toMatchObject({ endedBefore: 1, firstPosition: '4', lastPosition: '4' });
    now = 60_000;
    logNewer(log, newer(5n));
    expect(lines).toHaveLength(5);
    expect(lines[4]!.fields).toMatchObject({ endedBefore: 100, firstPosition: '5', lastPosition: '5' });
  });
});
