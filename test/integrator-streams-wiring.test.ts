import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { EventStoreDbStore, openEventStoreDbStore, openStore, parseStoreConnectionString } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import type { Io } from '../bin/io.ts';
import { T0, establishOne } from './support/fleet.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { collector } from './integrator-streams.fixtures.ts';

// Issue 6: "the engine picks the store from a connection string": openCredence and the CLI commands that read a
// store take one, next to the data folder that keeps the read models and the transparency log.

const buffers = (): Io & { lines: string[]; errors: string[] } => {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => void lines.push(l), err: (l) => void errors.push(l) };
};

let standIn: StandIn;
let dir: string;
beforeEach(async () => {
  standIn = await startStandIn();
  dir = mkdtempSync(join(tmpdir(), 'credence-wiring-'));
});
afterEach(async () => {
  await standIn.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('openCredence with a connection string', () => {
  it('runs the engine, the projections and the lifecycle stream (credence.events$) on EventStoreDB, read models in the data folder', async () => {
    const c = openCredence({ location: { dir }, clock: new FakeClock(T0), connectionString: standIn.connectionString });
    try {
      expect(c.store).toBeInstanceOf(EventStoreDbStore);
      const nodes = collector(c.events$({ kinds: ['node'] }));
      await establishOne(c.engine);
      await c.settle();
      // NodeAssociated comes from the cascade process manager, a projection that follows the same store.
      await nodes.until(3);
      nodes.subscription.unsubscribe();
      expect(nodes.values.map((e) => e.event.type)).toEqual(['NodeRegistered', 'NodeEnrolled', 'NodeAssociated']);
      // Besides its 3 events the node's stream holds the fact claims of the decisions that read it (docs/eventstoredb.md).
      expect((standIn.log.stream('node-meter-1') ?? []).filter((e) => e.type !== FACT_CLAIM_TYPE)).toHaveLength(3);
      expect(c.transparency?.position).toBe(await c.store.headPosition());
      expect([existsSync(join(dir, 'readmodels.db')), existsSync(join(dir, 'events.db'))]).toEqual([true, false]);
    } finally {
      await c.close();
    }
  });
});

describe('credence replay / history --store', () => {
  const fill = async (connectionString: string): Promise<void> => {
    const store = openStore(connectionString);
    await establishOne(createEngine({ store, clock: new FakeClock(T0) }));
    await store.close();
  };

  it('replays and prints the history of an EventStoreDB store', async () => {
    await fill(standIn.connectionString);
    const replay = buffers();
    expect(await main(['replay', '--store', standIn.connectionString], replay)).toBe(0);
    expect(replay.lines[0]).toBe('replayed 7 events');
    expect(replay.lines.at(-1)).toBe('verdict: every stored transition is legal');
    const history = buffers();
    expect(await main(['history', 'credential-cred-1', '--store', standIn.connectionString.replace('esdb://', 'kurrentdb://')], history)).toBe(0);
    expect(history.lines[0]).toBe('credential-cred-1: enrolled');
  });

  it('reads sqlite:<folder> given as --store, and the --data folder without it', async () => {
    await fill(`sqlite:${dir}`);
    const viaStore = buffers();
    expect(await main(['replay', '--store', `sqlite:${dir}`], viaStore)).toBe(0);
    // The first replay left its checkpoint in the folder: --full verifies the same history again from position 0.
    const viaData = buffers();
    expect(await main(['replay', '--data', dir, '--full'], viaData)).toBe(0);
    expect(viaStore.lines).toEqual(viaData.lines);
    expect(viaData.lines[0]).toBe('replayed 7 events');
    const incremental = buffers();
    expect(await main(['replay', '--data', dir], incremental)).toBe(0);
    expect(incremental.lines[0]).toBe('replayed 7 events (0 new after the checkpoint at position 7; --full verifies them all again)');
  });

  it('refuses a malformed --store without repeating it, an empty folder, and an in-memory store', async () => {
    const malformed = buffers();
    expect(await main(['replay', '--store', 'postgres://credence:s3cret@db:5432'], malformed)).toBe(2);
    expect(malformed.errors.join('\n')).toMatch(/^error: --store: must be sqlite:<folder>/);
    expect(malformed.errors.join('\n')).not.toContain('s3cret');
    const empty = buffers();
    expect(await main(['history', 'node-meter-1', '--store', `sqlite:${join(dir, 'none')}`], empty)).toBe(2);
    expect(empty.errors).toEqual([`error: --store: no event store in ${join(dir, 'none')} (run npm start first, or pass --data DIR or --store URL)`]);
    const memory = buffers();
    expect(await main(['replay', '--store', 'sqlite::memory:'], memory)).toBe(2);
    expect(memory.errors[0]).toMatch(/in-memory store holds no events/);
  });
});

describe('adapters/store index', () => {
  it('parses connection strings and opens the EventStoreDB store from its own constructor too', async () => {
    expect(parseStoreConnectionString(undefined)).toEqual({ kind: 'sqlite', dir: './data' });
    expect(parseStoreConnectionString(standIn.connectionString)).toEqual({ kind: 'eventstoredb', connectionString: standIn.connectionString });
    const store = openEventStoreDbStore(standIn.connectionString);
    expect(await store.headPosition()).toBeUndefined();
    await store.close();
  });
});
