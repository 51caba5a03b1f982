/**
 * Review 398: `credence projections status` on a data folder counts each read model's events to handle up to a limit
 * (projectionLag, 1,000,000 by default) and printed the count as exact: a folder whose audit trail is 5,000,000
 * events behind read `1000000`. It now says `1000000 or more`, as `credence query` says its own count at its limit,
 * and `--json` marks such a count `eventsBehindAtLeast: true` (on the component and on `lag`).
 *
 * A million events are not built: the count's stop at its limit is shown below on a few events with a small limit,
 * and the status is run over a projectionLag that answers what such a count does on a store past the limit.
 *
 * Review 398's follow-up: "reached the limit" was judged as count >= limit, but projectionLag passes over records it
 * read (at or below the checkpoint, and on a store that is not gapless other applications' records), so a read that
 * stopped at its limit could count just under it and be said exact. projectionLag now says so itself
 * (`eventsBehindAtLeast`, set when its read stopped at its limit), and `projections status` and `query` go by that.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EventStore, ReadAllOptions, RecordedEvent } from '../domain/ports/index.ts';
import { setupCheckpoints, writeCheckpoint } from '../projections/runtime/checkpoints.ts';
import { lockDataFolder } from '../adapters/runtime/index.ts';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { auditTrail } from '../projections/audit/index.ts';
import { runCli } from './support/cli.ts';
import { cmd, fixture } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

type Runtime = typeof import('../projections/runtime/index.ts');
const overLimit = { names: [] as string[], short: 0 };
vi.mock('../projections/runtime/index.ts', async (importOriginal) => {
  const actual = await importOriginal<Runtime>();
  return {
    ...actual,
    // For the read models named, a store holding more events to handle than the count's limit: its read stopped at
    // the limit, `short` of the records it read passed over (at or below the checkpoint, or another application's).
    projectionLag: async (...args: Parameters<Runtime['projectionLag']>) => {
      const lag = await actual.projectionLag(...args);
      const read = args[3] ?? 1_000_000;
      return overLimit.names.includes(lag.name) ? { ...lag, eventsBehind: read - overLimit.short, eventsBehindAtLeast: true as const } : lag;
    },
  };
});
afterEach(() => {
  overLimit.names = [];
  overLimit.short = 0;
});

const scratch = temporaryFolders('credence-projections-count-limit-');

const folder = async (): Promise<string> => {
  const dir = scratch();
  const store = openSqliteStoreInDir(dir);
  const { engine } = fixture(store);
  for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.registerNode('meter-3')]) await engine.execute(c);
  await store.close();
  return dir;
};

interface Component {
  readonly name: string;
  readonly eventsBehind: number;
  readonly eventsBehindAtLeast?: boolean;
}

describe('credence projections status at the limit of its count', () => {
  it('counts up to the limit and stops there, however many more there are', async () => {
    const dir = await folder();
    expect((await runCli(['projections', '--data', dir])).code).toBe(0);
    const { projectionLag } = await vi.importActual<Runtime>('../projections/runtime/index.ts');
    const store = openSqliteStoreInDir(dir);
    const db = openReadModels({ dir });
    try {
      const audit = auditTrail();
      const whole = await projectionLag(db, store, audit);
      expect(whole.eventsBehind).toBe(4);
      expect(whole.eventsBehindAtLeast).toBeUndefined();
      // Stopped at its limit: it says so itself.
      expect(await projectionLag(db, store, audit, 2)).toMatchObject({ eventsBehind: 2, eventsBehindAtLeast: true });
    } finally {
      db.close();
      await store.close();
    }
  });

  it('says a count that reached its limit is that many or more, in text and --json', async () => {
    const dir = await folder();
    overLimit.names = ['audit'];
    const text = await runCli(['projections', '--data', dir]);
    expect(text.code, text.err).toBe(0);
    const row = text.out.split('\n').find((l) => l.startsWith('audit '));
    expect(row).toMatch(/ 1000000 or more +\d+$/);
    // The other rows as they were: exact counts.
    expect(text.out.split('\n').filter((l) => l.includes('or more'))).toEqual([row]);

    const json = await runCli(['projections', '--data', dir, '--json']);
    expect(json.code, json.err).toBe(0);
    const status = JSON.parse(json.out) as { components: Component[]; lag: { eventsBehind: number; eventsBehindAtLeast?: boolean } };
    const audit = status.components.find((c) => c.name === 'audit');
    expect(audit).toMatchObject({ eventsBehind: 1_000_000, eventsBehindAtLeast: true });
    for (const c of status.components.filter((c) => c.name !== 'audit')) expect(c.eventsBehindAtLeast, c.name).toBeUndefined();
    expect(status.lag).toMatchObject({ eventsBehind: 1_000_000, eventsBehindAtLeast: true });
  });

  it('says an exact count as it is, with no such member', async () => {
    const dir = await folder();
    const json = await runCli(['projections', '--data', dir, '--json']);
    const status = JSON.parse(json.out) as { components: Component[]; lag: Record<string, unknown> };
    expect(status.components.some((c) => c.eventsBehind > 0)).toBe(true);
    for (const c of status.components) expect(c.eventsBehindAtLeast, c.name).toBeUndefined();
    expect(status.lag['eventsBehindAtLeast']).toBeUndefined();
    expect((await runCli(['projections', '--data', dir])).out).not.toContain('or more');
  });
});

/**
 * A store that is not gapless (EventStoreDB's $all): the records given, read in order after `afterPosition` up to
 * `maxCount`, as its readAll does. Nothing else of it is asked here.
 */
const notGapless = (records: readonly RecordedEvent[]): EventStore =>
  ({
    gapless: false,
    async *readAll(options: ReadAllOptions = {}) {
      let read = 0;
      for (const r of records) {
        if (options.afterPosition !== undefined && r.position <= options.afterPosition) continue;
        if (options.maxCount !== undefined && read >= options.maxCount) return;
        read++;
        yield r;
      }
    },
    headPosition: async () => records.at(-1)?.position,
  }) as unknown as EventStore;

const recordAt = (position: number, streamId: string): RecordedEvent => ({
  id: `e-${position}`,
  streamId,
  revision: 0n,
  position: BigInt(position),
  type: 'NodeRegistered',
  data: {},
  metadata: { occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, position)).toISOString() },
});

describe('projectionLag says a read that stopped at its limit is at least what it counted', () => {
  // The module's own, not the stand-in above.
  const projectionLag = async (...args: Parameters<Runtime['projectionLag']>) =>
    (await vi.importActual<Runtime>('../projections/runtime/index.ts')).projectionLag(...args);
  const projection = { name: 'audit', eventTypes: undefined };
  const withCheckpoint = (checkpoint?: { position: bigint; occurredAt: string; eventId: string }) => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupCheckpoints(db);
    if (checkpoint !== undefined) writeCheckpoint(db, 'audit', checkpoint);
    return db;
  };

  it('with records at or below its checkpoint read again and passed over: under the limit, and still at least', async () => {
    // A checkpoint an earlier version kept at another application's record (no occurredAt), which the store no
    // longer says is there: the read starts from the beginning and passes over the records up to it (resume-point.ts).
    const records = Array.from({ length: 12 }, (_, i) => recordAt(i + 1, `node-meter-${i + 1}`));
    const db = withCheckpoint({ position: 4n, occurredAt: '', eventId: 'gone' });
    try {
      const store = notGapless(records);
      const stopped = await projectionLag(db, store, projection, 6);
      // Six read, four of them handled: two counted, and more follow.
      expect(stopped).toMatchObject({ eventsBehind: 2, eventsBehindAtLeast: true });
      // Read to the end: exact, no such member.
      const whole = await projectionLag(db, store, projection, 100);
      expect(whole.eventsBehind).toBe(8);
      expect(whole.eventsBehindAtLeast).toBeUndefined();
    } finally {
      db.close();
    }
  });

  it("with another application's records passed over: under the limit, and still at least", async () => {
    const records = Array.from({ length: 10 }, (_, i) => recordAt(i + 1, i % 2 === 0 ? `other-app-${i}` : `node-meter-${i}`));
    const db = withCheckpoint();
    try {
      const store = notGapless(records);
      const stopped = await projectionLag(db, store, projection, 4);
      expect(stopped).toMatchObject({ eventsBehind: 2, eventsBehindAtLeast: true });
      const whole = await projectionLag(db, store, projection, 10);
      // Ten read of ten: the read stopped at its limit, so it says at least (it cannot tell there is no eleventh).
      expect(whole).toMatchObject({ eventsBehind: 5, eventsBehindAtLeast: true });
      const more = await projectionLag(db, store, projection, 11);
      expect(more.eventsBehind).toBe(5);
      expect(more.eventsBehindAtLeast).toBeUndefined();
    } finally {
      db.close();
    }
  });
});

describe('a count said at least though under its limit', () => {
  it('projections status says it as that many or more, in text and --json (not judged by the limit)', async () => {
    const dir = await folder();
    overLimit.names = ['audit'];
    overLimit.short = 2;
    const text = await runCli(['projections', '--data', dir]);
    expect(text.code, text.err).toBe(0);
    expect(text.out.split('\n').find((l) => l.startsWith('audit '))).toMatch(/ 999998 or more +\d+$/);
    const json = await runCli(['projections', '--data', dir, '--json']);
    const status = JSON.parse(json.out) as { components: Component[]; lag: { eventsBehind: number; eventsBehindAtLeast?: boolean } };
    expect(status.components.find((c) => c.name === 'audit')).toMatchObject({ eventsBehind: 999_998, eventsBehindAtLeast: true });
    expect(status.lag).toMatchObject({ eventsBehind: 999_998, eventsBehindAtLeast: true });
  });

  it('query beside the process holding the folder says the read models were that many or more behind', async () => {
    const dir = await folder();
    expect((await runCli(['projections', '--data', dir])).code).toBe(0);
    overLimit.names = ['audit'];
    overLimit.short = 2;
    const lock = lockDataFolder(dir);
    try {
      const queried = await runCli(['query', 'revocations', '--data', dir]);
      expect(queried.code, queried.err).toBe(0);
      expect(queried.err).toContain('note: the read models were 99998 or more event(s) behind the store');
    } finally {
      lock.release();
    }
  });
});
