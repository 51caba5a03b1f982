import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock, createEngine, openCredence, openSqliteStoreInDir, replayAll, type CommandOutcome, type Credence } from '../../adapters/runtime/index.ts';
import { openReadModels } from '../../adapters/driven/readmodels/index.ts';
import { systemProjections } from '../../adapters/runtime/projections.ts';
import { eventIdFor } from '../../domain/event-ids.ts';
import { reactionsAtOnceFor } from '../../projections/cascade/index.ts';
import { ProjectionRunner } from '../../projections/runtime/index.ts';
import { main } from '../../bin/cli.ts';
import { capture } from './cli.ts';
import { footprint } from './fleet.ts';
import { laneHead, parseAcks, T0_MS, type MixCommand, type WorkerConfig } from './crash-mix.ts';
import { PRELUDE_LENGTH, readStoreFacts } from './crash-store-facts.ts';

/**
 * The checks of a crashed data folder (issue 10), from a fresh process: `credence verify --data` on the folder
 * exactly as the kill left it, `integrity_check` on every database, the store's facts (crash-store-facts.ts),
 * replay, then a resumed instance: resubmitted acknowledged commands are deduplicated and write nothing, its
 * read models equal a clean rebuild from position 0, and after its close `verify` passes with everything signed.
 */

export interface RoundFacts {
  readonly acked: number;
  /** Acknowledged commands missing from the store, and commands stored in part (both must be 0). */
  readonly lost: number;
  readonly partial: number;
  readonly inFlightPresent: number;
  readonly inFlightAbsent: number;
  /** Events in the store as the kill left it. */
  readonly events: number;
  /** Events the transparency log held at the kill, and how many a signed checkpoint covered (credence rounds). */
  readonly logged: number | undefined;
  readonly signed: number | undefined;
  /** Events after the resumed instance settled (its cascades) and the in-flight commands were resubmitted. */
  readonly eventsAfterResume: number;
  readonly tablesCompared: number;
}

const DATABASES = ['events.db', 'readmodels.db', 'transparency.db'];
const DAY_MS = 24 * 60 * 60 * 1000;

const integrity = (dir: string, when: string, problems: string[]): void => {
  for (const file of DATABASES) {
    const path = join(dir, file);
    if (!existsSync(path)) continue;
    const db = new Database(path, { fileMustExist: true });
    try {
      const rows = db.pragma('integrity_check') as { integrity_check: string }[];
      if (rows.length !== 1 || rows[0]!.integrity_check !== 'ok') problems.push(`${when}: integrity_check of ${file}: ${JSON.stringify(rows)}`);
    } finally {
      db.close();
    }
  }
};

/** `credence verify --data DIR --json`, in process: exit 0 and the audit's counts, or a problem. */
const verify = async (dir: string, when: string, problems: string[]): Promise<{ matched: number; signed: number; unlogged: number } | undefined> => {
  const c = capture();
  const code = await main(['verify', '--data', dir, '--json'], c.io);
  let report: { ok?: boolean; checkedEvents?: number; signedThrough?: number; unlogged?: number } | undefined;
  try {
    report = JSON.parse(c.out.join('\n')) as typeof report;
  } catch {
    report = undefined;
  }
  // Killed before its log's first pass, or between its first leaves and their signature: nothing signed yet is no
  // finding (UNVERIFIED, exit 1); the close below must sign it all.
  const kind = (report as { kind?: unknown } | undefined)?.kind;
  if (code === 1 && (kind === 'not_logged_yet' || kind === 'not_signed_yet')) return { matched: 0, signed: 0, unlogged: Number.NaN };
  if (code !== 0 || report?.ok !== true) {
    problems.push(`${when}: credence verify --data exited ${code}: ${[...c.out, ...c.err].join(' | ')}`);
    return undefined;
  }
  return { matched: Number(report.checkedEvents), signed: Number(report.signedThrough), unlogged: Number(report.unlogged) };
};

const json = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

const tablesOf = (db: Database.Database): string[] =>
  db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).pluck().all() as string[];

const rowsOf = (db: Database.Database, table: string): string[] => {
  const columns = (db.pragma(`table_info("${table}")`) as unknown[]).length;
  const order = Array.from({ length: columns }, (_, i) => i + 1).join(', ');
  return (db.prepare(`SELECT * FROM "${table}" ORDER BY ${order}`).all() as unknown[]).map(json);
};

/** Every read-model table of the resumed instance, row for row, against the same tables rebuilt from position 0. */
const compareWithRebuild = async (credence: Credence, rebuildDir: string, problems: string[]): Promise<number> => {
  const before = await footprint(credence.store);
  const db = openReadModels({ dir: rebuildDir });
  try {
    // The cascade reacts again while it rebuilds: every reaction must be one already made (deduplicated) or moot.
    const engine = createEngine({ store: credence.store, clock: new FakeClock(new Date(T0_MS + 2 * DAY_MS)) });
    const runner = new ProjectionRunner({ db, store: credence.store, projections: systemProjections({ engine, reactionsAtOnce: reactionsAtOnceFor(credence.store) }).projections });
    while ((await runner.catchUp()) > 0) {
      /* until nothing moves */
    }
    const after = await footprint(credence.store);
    if (after.count !== before.count) problems.push(`the clean rebuild appended ${after.count - before.count} events: the resumed cascade had left work undone`);
    const resumed = tablesOf(credence.readModels);
    const rebuilt = tablesOf(db);
    if (json(resumed) !== json(rebuilt)) problems.push(`read-model tables differ: resumed ${resumed.join(',')} / rebuilt ${rebuilt.join(',')}`);
    for (const table of resumed.filter((t) => rebuilt.includes(t))) {
      const a = rowsOf(credence.readModels, table);
      const b = rowsOf(db, table);
      const at = a.findIndex((row, i) => row !== b[i]);
      if (a.length !== b.length || at >= 0) {
        problems.push(`read model ${table}: resumed ${a.length} rows, rebuilt ${b.length}; first difference: ${a[at] ?? '-'} vs ${b[at] ?? '-'}`);
      }
    }
    return resumed.length;
  } finally {
    db.close();
  }
};

export const checkCrashedFolder = async (args: { config: WorkerConfig; rebuildDir: string }): Promise<{ facts: RoundFacts | undefined; problems: string[] }> => {
  const { config } = args;
  const { dir } = config;
  const problems: string[] = [];
  if (!existsSync(join(dir, 'events.db'))) {
    // Killed before the store was ever opened: nothing can have been acknowledged.
    const acks = existsSync(config.acksFile) ? parseAcks(readFileSync(config.acksFile, 'utf8')) : [];
    if (acks.length > 0) problems.push(`LOST: ${acks.length} acknowledged commands but no events.db`);
    return { facts: undefined, problems };
  }
  // 1. The folder exactly as the kill left it (WAL and shm files included): the first opener is the auditor.
  const raw = existsSync(join(dir, 'transparency.db')) ? await verify(dir, 'after the kill', problems) : undefined;
  // 2. Every database is sound.
  integrity(dir, 'after the kill', problems);
  // 3. Every acknowledged command is there once, the one in flight all or nothing, no revision gap.
  const acks = parseAcks(existsSync(config.acksFile) ? readFileSync(config.acksFile, 'utf8') : '');
  const store = readStoreFacts(config, acks, problems);
  // 4. Replay finds nothing.
  const replayStore = openSqliteStoreInDir(dir);
  try {
    const replay = await replayAll(replayStore);
    for (const f of replay.findings.slice(0, 5)) problems.push(`replay: ${f.streamId} at ${f.position}: ${f.reason}`);
  } finally {
    await replayStore.close();
  }
  // 5. Resume, as an operator restarting the service would.
  const credence = openCredence({ location: { dir }, clock: new FakeClock(new Date(T0_MS + 2 * DAY_MS)) });
  let eventsAfterResume = 0;
  let tablesCompared = 0;
  const resubmit = async (command: MixCommand, into: string[]): Promise<CommandOutcome | undefined> => {
    try {
      return await credence.engine.execute(command);
    } catch (error) {
      into.push(`resubmitted ${command.type} ${command.metadata.commandId} was refused: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  };
  try {
    await credence.settle();
    const before = await footprint(credence.store);
    const heads = Array.from({ length: config.lanes + 1 }, (_, lane) =>
      laneHead(config.seed, config.lanes, lane, Math.max(0, ...acks.filter((a) => a.lane === lane).map((a) => a.index + 1))),
    );
    for (const a of acks) {
      const command = heads[a.lane]![a.index]!;
      const outcome = await resubmit(command, problems);
      if (outcome !== undefined && (!outcome.deduplicated || json(outcome.events.map((e) => e.id)) !== json([eventIdFor(a.commandId, 0)]))) {
        problems.push(`resubmitted acknowledged ${command.type} ${a.commandId}: deduplicated ${outcome.deduplicated}, events ${outcome.events.map((e) => e.id).join(',')}`);
      }
    }
    const after = await footprint(credence.store);
    if (after.count !== before.count || after.head !== before.head) problems.push(`resubmitting acknowledged commands appended ${after.count - before.count} events`);
    // The command each lane had in flight, retried by its client: deduplicated exactly when it had committed.
    const preludeDone = acks.filter((a) => a.lane === 0).length === PRELUDE_LENGTH;
    for (const f of store.inFlight.filter((x) => x.lane === 0 || preludeDone)) {
      const outcome = await resubmit(f.command, problems);
      if (outcome !== undefined && outcome.deduplicated !== f.present) problems.push(`retried in-flight ${f.command.type}: deduplicated ${outcome.deduplicated} but it was ${f.present ? '' : 'not '}stored`);
    }
    await credence.settle();
    eventsAfterResume = (await footprint(credence.store)).count;
    // 6. Projections resumed after the kill equal a clean rebuild.
    tablesCompared = await compareWithRebuild(credence, args.rebuildDir, problems);
  } finally {
    // Closing signs a checkpoint over everything logged.
    await credence.close();
  }
  // 7. The log now covers every event under a signed checkpoint, and the files are still sound.
  const closed = await verify(dir, 'after the resumed close', problems);
  if (closed !== undefined && (closed.matched !== eventsAfterResume || closed.signed !== eventsAfterResume || closed.unlogged !== 0)) {
    problems.push(`after the resumed close, verify matched ${closed.matched} and signed ${closed.signed} of ${eventsAfterResume} events`);
  }
  integrity(dir, 'after the resumed close', problems);
  const present = store.inFlight.filter((f) => f.present).length;
  return {
    problems,
    facts: {
      acked: acks.length,
      lost: store.lost,
      partial: store.partial,
      inFlightPresent: present,
      inFlightAbsent: store.inFlight.length - present,
      events: store.events,
      logged: raw?.matched,
      signed: raw?.signed,
      eventsAfterResume,
      tablesCompared,
    },
  };
};
