import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { runCli } from './support/cli.ts';
import { expectLocalReadsOfRevokedMeter1 } from './support/local-reads.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { tempDirs, temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 278: the local read commands followed CREDENCE_DATA but not CREDENCE_STORE. On a data folder served on
 * EventStoreDB, with the very variables the service ran with, `replay`, `history`, `projections` and `query` said
 * "no event store in DIR (run npm start first …)" (exit 2); a folder left with an old events.db was read from that
 * stale file without a word. `credence verify --data` on such a folder said it "holds no event store and
 * transparency log" beside its log. Now the store is chosen as `credence serve` chooses it (--store, else
 * CREDENCE_STORE, else the data folder's events.db), and verify names the store it cannot audit and where to audit it.
 * Review 280: a folder holding its own events.db (a copy of a folder served on its embedded store) read with
 * CREDENCE_STORE set for the service read the live cluster, exit 0, and rewrote the copy's read models from it, while
 * verify --data audited the copy's file: every local read now refuses that, exit 2, naming both, writing nothing.
 */
const folder = temporaryFolders('credence-cli-credence-store-');
// The served folder lives across the file's tests.
const servedFolders = tempDirs('credence-cli-credence-store-served-');

let standIn: StandIn;
/** A data folder served on the stand-in: meter-1 registered and revoked there, logged and handled. */
let served: string;

beforeAll(async () => {
  standIn = await startStandIn();
  served = servedFolders.make();
  const svc = await startTestService({ dir: served, config: { store: standIn.connectionString } });
  try {
    const { engine } = svc.service.context.credence;
    await engine.execute(cmd.registerNode('meter-1'));
    const last = (await engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }))).events.at(-1)!.position;
    if (!(await svc.service.context.live.caughtUp(last, 30_000))) throw new Error('the live runtime did not catch up');
  } finally {
    await svc.close();
  }
}, 120_000);
afterAll(async () => {
  servedFolders.cleanup();
  await standIn.stop();
});

/** An events.db in `dir` of another, older fleet: meter-9 revoked, meter-1 unknown. */
const staleEventsDb = async (dir: string): Promise<void> => {
  const store = openSqliteStoreInDir(dir);
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  await engine.execute(cmd.registerNode('meter-9'));
  await engine.execute(command('revokeNode', { nodeId: 'meter-9', reason: 'keyCompromise' }, { actor: operator }));
  await store.close();
};

describe('a local read command on a data folder served on EventStoreDB', () => {
  it('reads the store CREDENCE_STORE names, with the folder CREDENCE_DATA names, as credence serve does', async () => {
    expect(existsSync(join(served, 'events.db'))).toBe(false);
    const env = { CREDENCE_DATA: served, CREDENCE_STORE: standIn.connectionString };
    await expectLocalReadsOfRevokedMeter1(env);
    // --data names the folder, as it does for serve; the store is still the one CREDENCE_STORE names.
    const flagged = await runCli(['query', 'revocations', '--json', '--data', served], { CREDENCE_STORE: standIn.connectionString });
    expect(flagged.code, flagged.err).toBe(0);
    expect(flagged.out).toContain('node-meter-1');
    // Nothing made in the folder by a read.
    expect(existsSync(join(served, 'events.db'))).toBe(false);
  }, 60_000);

  it('never reads a stale events.db left in the folder when CREDENCE_STORE is set: refused, naming both, exit 2', async () => {
    const dir = folder();
    await staleEventsDb(dir);
    // The folder named by CREDENCE_DATA, then by --data.
    for (const [args, env] of [
      [[], { CREDENCE_DATA: dir, CREDENCE_STORE: standIn.connectionString }],
      [['--data', dir], { CREDENCE_STORE: standIn.connectionString }],
    ] as const) {
      const query = await runCli(['query', 'revocations', '--json', ...args], env);
      expect(query.code, query.err).toBe(2);
      expect(query.out).toBe('');
      expect(query.err).toContain(join(dir, 'events.db'));
      expect(query.err).toContain('env CREDENCE_STORE');
      expect(query.err).toContain(`--store sqlite:${dir}`);
      // Review 282: unsetting CREDENCE_STORE reads the file; the store is reached by moving the leftover file aside.
      expect(query.err).toMatch(/to read that file, pass --store sqlite:[^;]*\(or unset CREDENCE_STORE\);/);
      expect(query.err).toContain('move that file aside');
    }
    // --store sqlite:DIR still reads that file, by choice.
    const chosen = await runCli(['query', 'revocations', '--json', '--store', `sqlite:${dir}`], { CREDENCE_STORE: standIn.connectionString });
    expect(chosen.code, chosen.err).toBe(0);
    expect(chosen.out).toContain('node-meter-9');
  }, 60_000);

  it('keeps the npm start hint for a folder with no store configured at all, and never repeats a password', async () => {
    const empty = folder();
    const none = await runCli(['history', 'node-meter-1'], { CREDENCE_DATA: empty });
    expect(none.code).toBe(2);
    expect(none.err).toContain(`env CREDENCE_DATA: no event store in ${empty} (run npm start first`);

    const elsewhere = folder();
    const configured = await runCli(['history', 'node-meter-1'], { CREDENCE_DATA: empty, CREDENCE_STORE: `sqlite:${elsewhere}` });
    expect(configured.code).toBe(2);
    expect(configured.err).toContain(`env CREDENCE_STORE: no event store in ${elsewhere}`);
    expect(configured.err).not.toContain('npm start');

    const bad = await runCli(['history', 'node-meter-1'], { CREDENCE_DATA: empty, CREDENCE_STORE: 'postgres://admin:s3cret-pw@db/credence' });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('env CREDENCE_STORE');
    expect(bad.err).not.toContain('s3cret-pw');

    const withPassword = standIn.connectionString.replace('esdb://', 'esdb://admin:s3cret-pw@');
    const read = await runCli(['query', 'revocations', '--json'], { CREDENCE_DATA: served, CREDENCE_STORE: withPassword });
    expect(read.code, read.err).toBe(0);
    expect(`${read.out}\n${read.err}`).not.toContain('s3cret-pw');
  }, 60_000);
});

describe('credence verify --data on a data folder served on EventStoreDB', () => {
  it('says the store is on EventStoreDB, that the local audit reads the embedded store only, and where to audit it', async () => {
    expect(existsSync(join(served, 'transparency.db'))).toBe(true);
    const known = await runCli(['verify', '--data', served], { CREDENCE_STORE: standIn.connectionString });
    expect(known.code).toBe(2);
    expect(known.err).not.toContain('holds no event store and transparency log');
    expect(known.err).toContain('EventStoreDB (env CREDENCE_STORE)');
    expect(known.err).toContain('embedded store');
    expect(known.err).toContain('credence verify --server');

    // Without the variable the store cannot be named, but the folder's log is not denied.
    const unknown = await runCli(['verify', '--data', served]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).not.toContain('holds no event store and transparency log');
    expect(unknown.err).toContain('transparency log');
    expect(unknown.err).toContain('embedded store');
    expect(unknown.err).toContain('credence verify --server');
  }, 60_000);

  it('refuses a folder that holds its own events.db while CREDENCE_STORE names another store, as the other local reads do', async () => {
    const dir = folder();
    const svc = await startTestService({ dir });
    await svc.close();
    expect(existsSync(join(dir, 'events.db'))).toBe(true);
    const refused = await runCli(['verify', '--data', dir], { CREDENCE_STORE: standIn.connectionString });
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(join(dir, 'events.db'));
    expect(refused.err).toContain('env CREDENCE_STORE');
    expect(refused.err).toContain('credence verify --server');
    expect(refused.err).not.toContain(standIn.connectionString);
    // CREDENCE_STORE naming the folder itself is its own file: audited as without it.
    const plain = await runCli(['verify', '--data', dir]);
    const same = await runCli(['verify', '--data', dir], { CREDENCE_STORE: `sqlite:${dir}` });
    expect(same.code).toBe(plain.code);
    expect(same.err).toBe(plain.err);
    expect(plain.err).not.toContain('CREDENCE_STORE');
  }, 60_000);
});

/** Every file of the folder's read models (readmodels.db and its -wal, -shm), byte for byte. */
const readModelBytes = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir)
      .filter((name) => name.startsWith('readmodels.db'))
      .map((name) => [name, createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')]),
  );

describe('a copy of a data folder served on its embedded store, read with CREDENCE_STORE set for the service (review 280)', () => {
  let copy: string;

  beforeAll(async () => {
    const original = servedFolders.make();
    const svc = await startTestService({ dir: original });
    try {
      const { engine } = svc.service.context.credence;
      await engine.execute(cmd.registerNode('meter-copy'));
      const last = (await engine.execute(command('revokeNode', { nodeId: 'meter-copy', reason: 'keyCompromise' }, { actor: operator }))).events.at(-1)!.position;
      if (!(await svc.service.context.live.caughtUp(last, 30_000))) throw new Error('the live runtime did not catch up');
    } finally {
      await svc.close();
    }
    copy = servedFolders.make();
    cpSync(original, copy, { recursive: true });
  }, 120_000);

  it('refuses every local read, exit 2, naming the folder\'s events.db and env CREDENCE_STORE, its read models untouched', async () => {
    const before = readModelBytes(copy);
    expect(Object.keys(before)).toContain('readmodels.db');
    const withPassword = standIn.connectionString.replace('esdb://', 'esdb://admin:s3cret-pw@');
    for (const env of [{ CREDENCE_STORE: standIn.connectionString }, { CREDENCE_STORE: withPassword }]) {
      for (const args of [
        ['query', 'revocations', '--json', '--data', copy],
        ['history', 'node-meter-copy', '--data', copy],
        ['state', 'node-meter-copy', '--at', new Date().toISOString(), '--data', copy],
        ['replay', '--data', copy],
        ['replay', '--full', '--workers', '2', '--data', copy],
        ['projections', 'status', '--data', copy],
        ['verify', '--data', copy],
      ]) {
        const run = await runCli(args, env);
        expect(run.code, `${args.join(' ')}: ${run.err}`).toBe(2);
        expect(run.out, args.join(' ')).toBe('');
        expect(run.err, args.join(' ')).toContain(join(copy, 'events.db'));
        expect(run.err, args.join(' ')).toContain('env CREDENCE_STORE');
        expect(run.err, args.join(' ')).not.toContain('s3cret-pw');
        expect(run.err, args.join(' ')).not.toContain(standIn.connectionString);
      }
      // The folder named by CREDENCE_DATA is refused alike.
      const byVariable = await runCli(['query', 'revocations', '--json'], { ...env, CREDENCE_DATA: copy });
      expect(byVariable.code, byVariable.err).toBe(2);
      expect(byVariable.err).toContain(join(copy, 'events.db'));
    }
    expect(readModelBytes(copy)).toEqual(before);
  }, 120_000);

  it('reads the copy with --store sqlite:DIR, CREDENCE_STORE set or not', async () => {
    const env = { CREDENCE_STORE: standIn.connectionString };
    const query = await runCli(['query', 'revocations', '--json', '--data', copy, '--store', `sqlite:${copy}`], env);
    expect(query.code, query.err).toBe(0);
    expect(query.out).toContain('node-meter-copy');
    expect(query.out).not.toContain('node-meter-1"');
    const history = await runCli(['history', 'node-meter-copy', '--json', '--store', `sqlite:${copy}`], env);
    expect(history.code, history.err).toBe(0);
    expect(history.out).toContain('NodeRevoked');
    const replay = await runCli(['replay', '--json', '--store', `sqlite:${copy}`], env);
    expect(replay.code, replay.err).toBe(0);
    // verify takes no --store: CREDENCE_STORE naming the folder itself reads its file.
    const verify = await runCli(['verify', '--data', copy], { CREDENCE_STORE: `sqlite:${copy}` });
    const plain = await runCli(['verify', '--data', copy]);
    expect(verify.code, verify.err).toBe(plain.code);
    expect(verify.out).toBe(plain.out);
  }, 120_000);
});
