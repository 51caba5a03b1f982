/**
 * Review 412 F2 (a regression of 0a62671b): the sweep of pending keys put every failure into one AggregateError whose
 * message named each, with no bound, and hid a typed error. With the store or the Secure Environment down every
 * pending key fails: 5,000 pending PSK copies gave a 619,000-character message, logged at every tick and put into
 * GET /v1/projections' component status, and two `damaged_database` failures lost the typed "the database events.db is
 * damaged" there for a message naming the server's path. Failures of one kind are now that typed error, its message
 * naming their count; mixed ones an AggregateError naming at most five, then how many more.
 */
import { describe, expect, it } from 'vitest';
import { damagedDatabase } from '../domain/errors.ts';
import { streamIdOf } from '../domain/streams.ts';
import { sweepPendingKeys } from '../adapters/protocols/procedures/sweep-pending-keys.ts';
import { throwFailures } from '../adapters/protocols/procedures/sweep-failures.ts';
import { LockHeldElsewhere } from '../adapters/driven/files/index.ts';
import type { InfrastructureOptions } from '../adapters/protocols/procedures/infrastructure-options.ts';
import { messageOf } from '../adapters/runtime/live-failure.ts';

const PENDING = 200;
const BOUND = 2048;
const SERVER_PATH = '/data/events.db';
const TYPED = 'the database events.db is damaged: its operator must mend it';

/** `count` pending PSK copies, loading the credential of the i-th failing with `failure(i)`; no key pair run. */
const sweptOver = (count: number, failure: (i: number) => unknown) => {
  const bindings = Array.from({ length: count }, (_, i) => ({ stream: streamIdOf('credential', `meter-${i}-svc`), handle: `handle-${i}`, purpose: 'psk' }));
  const o = {
    registry: { pending: () => bindings, keyPairRuns: () => [] },
    engine: {
      clock: { now: () => new Date('2026-12-07T10:00:00Z') },
      entity: async (_kind: string, id: string) => {
        throw failure(Number(/meter-(\d+)-svc/.exec(id)![1]));
      },
    },
  } as unknown as InfrastructureOptions;
  return sweepPendingKeys(o).then(
    () => expect.unreachable('the sweep should have failed'),
    (error: unknown) => error as Error,
  );
};

const damaged = () => damagedDatabase(SERVER_PATH, 'events.db', 'SQLITE_CORRUPT: database disk image is malformed', 'restore it from a backup');

describe('a sweep whose every pending key fails', () => {
  it('with one typed error reports that typed error once, its message bounded and naming their count', async () => {
    // When 200 pending keys fail, each with the store's database damaged
    const failed = await sweptOver(PENDING, damaged);

    // Then the sweep throws that typed error, not an AggregateError of 200
    expect(failed).not.toBeInstanceOf(AggregateError);
    expect(failed).toMatchObject({ name: 'CredenceError', problem: { code: 'damaged_database', file: 'events.db' } });
    expect(failed.message.length).toBeLessThan(BOUND);
    expect(failed.message).toContain(String(PENDING));
    // and the component status stays typed, naming the file and not the server's path
    expect(messageOf(failed)).toContain(TYPED);
    expect(messageOf(failed)).not.toContain(SERVER_PATH);
  });

  it('with mixed errors reports a bounded AggregateError naming at most five, and how many more', async () => {
    // When 200 pending keys fail, the odd ones with a plain Error and the even ones with the database damaged
    const failed = await sweptOver(PENDING, (i) => (i % 2 === 1 ? new Error(`the Secure Environment did not answer for handle-${i}`) : damaged()));

    // Then one AggregateError says so, its message bounded, naming five of them and how many more
    expect(failed).toBeInstanceOf(AggregateError);
    expect(failed.message.length).toBeLessThan(BOUND);
    expect(failed.message).toContain(String(PENDING));
    expect(failed.message).toContain(`and ${PENDING - 5} more`);
    const named = Array.from({ length: PENDING }, (_, i) => `handle-${i} `).filter((h) => failed.message.includes(h));
    expect(named).toHaveLength(5);
    // its inner errors bounded too (the log writes each of them)
    expect((failed as AggregateError).errors.length).toBeLessThanOrEqual(10);
    // and the component status finds the typed error inside it: the file named, not the server's path
    expect(messageOf(failed)).toContain(TYPED);
    expect(messageOf(failed)).not.toContain(SERVER_PATH);
  });

  it('with one failure reports it as it was thrown', async () => {
    const failed = await sweptOver(1, () => new Error('the Secure Environment did not answer'));
    expect(failed).not.toBeInstanceOf(AggregateError);
    expect(failed.message).toBe('the Secure Environment did not answer');
  });
});

describe("the tick's closing steps (open-credence.ts), both failing", () => {
  const thrown = (failures: { what: string; error: unknown }[]) => {
    try {
      throwFailures(failures, "of the tick's closing steps failed");
    } catch (error) {
      return error as Error;
    }
    return expect.unreachable('should have thrown');
  };

  it('alike: report the typed error once, the error thrown left as it was', () => {
    const busy = new LockHeldElsewhere('keys.db', new Error('database is locked'));
    const failed = thrown([
      { what: 'the sweep of expired runs', error: busy },
      { what: "the shredder's retries", error: busy },
    ]);
    expect(failed).toBeInstanceOf(LockHeldElsewhere);
    expect(failed.message).toContain('2 ');
    expect(messageOf(failed)).toContain('the component tries again');
    expect(busy.message).toBe("keys.db is locked by another process's write transaction (SQLITE_BUSY)");
  });

  it('not alike: an AggregateError the status still words by its typed error', () => {
    const failed = thrown([
      { what: 'the sweep of expired runs', error: new Error('x'.repeat(100_000)) },
      { what: "the shredder's retries", error: damaged() },
    ]);
    expect(failed).toBeInstanceOf(AggregateError);
    expect(failed.message.length).toBeLessThan(BOUND);
    expect(messageOf(failed)).toContain(TYPED);
    expect(messageOf(failed)).not.toContain(SERVER_PATH);
  });
});
