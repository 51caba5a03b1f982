/**
 * Review 412 F2 (a regression of 0a62671b): the sweep of pending keys put every failure into one AggregateError whose
 * message named each, with no bound, and hid a typed error. With the store or the Secure Environment down every
 * pending key fails: 5,000 pending PSK copies gave a 619,000-character message, logged at every tick and put into
 * GET /v1/projections' component status, and two `damaged_database` failures lost the typed "the database events.db is
 * damaged" there for a message naming the server's path. Failures of one kind are now that typed error, its message
 * naming their count; mixed ones an AggregateError naming at most five, then how many more.
 *
 * Review 415: a sweep's AggregateError inside the tick's (F1) made the status fall back to the outer message, a
 * damaged database's path in it; failures of one kind but different messages (two damaged files) were "alike", all
 * but the first dropped (F2); one typed error among others worded the status as if it were the only failure (F3).
 */
import { describe, expect, it } from 'vitest';
import { damagedDatabase, validationError } from '../domain/errors.ts';
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
    // saying how many failed, and how many of them otherwise (review 415 F3)
    expect(messageOf(failed)).toMatch(/^200 failures, among them: the database events\.db is damaged.*; 100 others: the service's log names them$/);
  });

  it('with one failure reports it as it was thrown', async () => {
    const failed = await sweptOver(1, () => new Error('the Secure Environment did not answer'));
    expect(failed).not.toBeInstanceOf(AggregateError);
    expect(failed.message).toBe('the Secure Environment did not answer');
  });
});

const thrown = (failures: { what: string; error: unknown }[]) => {
  try {
    throwFailures(failures, "of the tick's closing steps failed");
  } catch (error) {
    return error as Error;
  }
  return expect.unreachable('should have thrown');
};

describe("the tick's closing steps (open-credence.ts), both failing", () => {
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

describe('review 415: failures inside failures, of one kind but not alike, and mixed', () => {
  const SECRET_PATH = '/srv/secret/keys.db';
  const damagedFile = (path: string, file: string) => damagedDatabase(path, file, 'SQLITE_CORRUPT: database disk image is malformed', 'restore it from a backup');
  const seDown = () => new Error('the Secure Environment did not answer');

  it("a sweep's AggregateError inside the tick's: the status names the damaged file, never its path (F1)", () => {
    // Given a sweep failing for a damaged keys.db and the Secure Environment down
    const swept = thrown([
      { what: 'the pending psk key handle-1 of credential-meter-1-svc', error: damagedFile(SECRET_PATH, 'keys.db') },
      { what: 'the pending psk key handle-2 of credential-meter-2-svc', error: seDown() },
    ]);
    // When the tick's closing steps fail together, the sweep's failure among them
    const failed = thrown([
      { what: 'the sweep of expired runs', error: swept },
      { what: "the shredder's retries", error: seDown() },
    ]);

    // Then the status names the file only, and keeps the failures it holds by type, not the sweep's wrapper
    expect(messageOf(failed)).toContain('the database keys.db is damaged');
    expect(messageOf(failed)).not.toContain('/');
    expect(messageOf(failed)).toMatch(/^3 failures, among them: /);
    expect((failed as AggregateError).errors.some((e) => e instanceof AggregateError)).toBe(false);
    expect((failed as AggregateError).errors).toHaveLength(3);
  });

  it('two damaged files, or two validation errors by different rules, are not alike: each is named (F2)', () => {
    const failed = thrown([
      { what: 'the sweep of expired runs', error: damagedFile('/data/keys.db', 'keys.db') },
      { what: "the shredder's retries", error: damagedFile('/data/access.db', 'access.db') },
    ]);
    expect(failed).toBeInstanceOf(AggregateError);
    expect(failed.message).toContain('keys.db');
    expect(failed.message).toContain('access.db');
    expect(messageOf(failed)).toContain('the database keys.db is damaged');
    expect(messageOf(failed)).toContain('the database access.db is damaged');
    expect(messageOf(failed)).not.toContain('/data/');

    const invalid = thrown([
      { what: 'the pending psk key handle-1 of credential-meter-1-svc', error: validationError([{ path: 'handle', rule: 'handle', message: 'must be a handle' }]) },
      { what: 'the pending psk key handle-2 of credential-meter-2-svc', error: validationError([{ path: 'purpose', rule: 'purpose', message: 'must be psk or session' }]) },
    ]);
    expect(invalid.message).toContain('must be a handle');
    expect(invalid.message).toContain('must be psk or session');
  });

  it('one typed failure among others does not speak for them all (F3)', () => {
    // When keys.db is locked for one pending key and the Secure Environment is down for four others
    const busy = new LockHeldElsewhere('keys.db', new Error('database is locked'));
    const failed = thrown([
      { what: 'the pending psk key handle-0 of credential-meter-0-svc', error: busy },
      ...[1, 2, 3, 4].map((i) => ({ what: `the pending psk key handle-${i} of credential-meter-${i}-svc`, error: seDown() })),
    ]);

    // Then the status says five failed, the lock among them, and four others the log names
    const said = messageOf(failed);
    expect(said).not.toMatch(/^keys\.db is locked/);
    expect(said).toMatch(/^5 failures, among them: keys\.db is locked/);
    expect(said).toContain('4 others');
    expect(said).not.toContain('/');
  });
});
