// Issue 10: crash durability. A child process runs the lifecycle mix on a data folder (store and engine only, or
// openCredence with the projections and the transparency log settling as it goes) and is killed with SIGKILL at a
// seeded moment, sometimes several times in a row; this process then checks the folder (test/support/crash-*.ts):
// every acknowledged command present exactly once, each command in flight all or nothing, no revision gap,
// integrity_check on every database, a clean replay, `credence verify --data` before and after resuming, resumed
// read models equal to a clean rebuild, and resubmitted acknowledged commands deduplicated with nothing appended.
//
// Three rounds here (one of each kind); more with CREDENCE_CRASH_ROUNDS=N. A failing round prints its seed;
// CREDENCE_CRASH_SEED=<seed> CREDENCE_CRASH_ROUNDS=1 reruns its mix and kill plan (the kill's exact instant is timing).
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, FakeClock, openSqliteStoreInDir } from '../adapters/runtime/index.ts';
import { commandIdFor, laneHead, T0_MS, type Ack, type WorkerConfig } from './support/crash-mix.ts';
import { describeRound, planRound, roundSeed, runRound } from './support/crash-round.ts';
import { readStoreFacts } from './support/crash-store-facts.ts';

const ROUNDS = Number(process.env['CREDENCE_CRASH_ROUNDS'] ?? 3);
const GIVEN = process.env['CREDENCE_CRASH_SEED'];
const BASE = GIVEN !== undefined ? Number(GIVEN) >>> 0 : Math.floor(Math.random() * 2 ** 32);

describe.runIf(ROUNDS > 0)('crash durability: SIGKILL at random moments loses no acknowledged command and leaves no partial one', () => {
  for (let round = 0; round < ROUNDS; round++) {
    const seed = roundSeed(BASE, round, GIVEN !== undefined);
    const plan = planRound(seed);
    it(`round ${round + 1}/${ROUNDS}: seed ${seed}, ${plan.mode}, ${plan.lives.length} kill(s)`, async () => {
      const report = await runRound(seed);
      console.log(describeRound(report));
      if (report.problems.length > 0) {
        console.error(`crash round FAILED: ${describeRound(report)}\nrerun: CREDENCE_CRASH_SEED=${seed} CREDENCE_CRASH_ROUNDS=1 npx vitest run test/crash-durability.test.ts`);
      }
      expect(report.problems, `seed ${seed}`).toEqual([]);
    });
  }
});

describe('the crash checks are not vacuous', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  /** The worker's mix run in this process, every command acknowledged, then the folder handed to `tamper`. */
  const folder = async (tamper: (db: Database.Database, config: WorkerConfig, acks: Ack[]) => Promise<void> | void) => {
    const root = mkdtempSync(join(tmpdir(), 'credence-crash-oracle-'));
    dirs.push(root);
    const config: WorkerConfig = { dir: join(root, 'data'), acksFile: join(root, 'acks'), seed: 7, mode: 'engine', lanes: 2, ackLagMs: 0, epochMs: 0 };
    const store = openSqliteStoreInDir(config.dir);
    const engine = createEngine({ store, clock: new FakeClock(new Date(T0_MS + 3_600_000)) });
    const acks: Ack[] = [];
    for (const [lane, count] of [[0, 2], [1, 6], [2, 6]] as const) {
      for (const [index, c] of laneHead(config.seed, config.lanes, lane, count).entries()) {
        await engine.execute(c);
        acks.push({ lane, index, commandId: c.metadata.commandId! });
      }
    }
    const db = new Database(join(config.dir, 'events.db'));
    try {
      await tamper(db, config, acks);
    } finally {
      db.close();
    }
    await store.close();
    const problems: string[] = [];
    const facts = readStoreFacts(config, acks, problems);
    return { facts, problems };
  };

  it('passes an intact folder and finds each lane\'s next command absent', async () => {
    const { facts, problems } = await folder(() => undefined);
    expect(problems).toEqual([]);
    expect(facts.ackedPresent).toBe(14);
    expect(facts.inFlight.map((f) => [f.lane, f.present])).toEqual([[1, false], [2, false]]);
  });

  it('counts a command that committed before its ack was written as in flight and present', async () => {
    const { problems, facts } = await folder(async (_db, config) => {
      const store = openSqliteStoreInDir(config.dir);
      await createEngine({ store, clock: new FakeClock(new Date(T0_MS + 3_600_000)) }).execute(laneHead(config.seed, config.lanes, 2, 7)[6]!);
      await store.close();
    });
    expect(problems).toEqual([]);
    expect(facts.inFlight.map((f) => [f.lane, f.present])).toEqual([[1, false], [2, true]]);
  });

  it('reports a lost acknowledged command, the revision gap and the commands row left without its events', async () => {
    const lost = commandIdFor(7, 1, 0);
    const { problems } = await folder((db) => void db.prepare(`DELETE FROM events WHERE command_id = ?`).run(lost));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^stream node-meter-0 has revisions 1: a gap/),
        `commands row ${lost} has no events: a partial command`,
        expect.stringMatching(new RegExp(`^LOST: acknowledged lane 1 #0 registerNode ${lost}`)),
      ]),
    );
  });

  it('reports an acknowledgement the store never saw and a command stored past the one in flight', async () => {
    const { problems } = await folder(async (_db, config, acks) => {
      acks.push({ lane: 2, index: 7, commandId: commandIdFor(config.seed, 2, 7) });
      // Lane 1 ran two more commands without acknowledging them: only the first could have been in flight.
      const store = openSqliteStoreInDir(config.dir);
      const engine = createEngine({ store, clock: new FakeClock(new Date(T0_MS + 3_600_000)) });
      for (const c of laneHead(config.seed, config.lanes, 1, 8).slice(6)) await engine.execute(c);
      await store.close();
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^lane 2 acknowledged 0,1,2,3,4,5,7: not a prefix/),
        expect.stringMatching(/^LOST: acknowledged lane 2 #7 /),
        expect.stringMatching(/is stored but was neither acknowledged nor in flight$/),
      ]),
    );
  });
});
