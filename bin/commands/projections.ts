import type { Command } from 'commander';
import { z } from 'zod';
import type { CommandSink } from '../../domain/ports/index.ts';
import { systemClock } from '../../adapters/driven/clock/index.ts';
import { createEngine } from '../../adapters/engine/index.ts';
import { openReadModels } from '../../adapters/driven/readmodels/index.ts';
import { lockDataFolder, type DataFolderLock } from '../../adapters/runtime/index.ts';
import { assertSetUp, lockUnlessHeld, sayRemovedStrays } from './folder-lock.ts';
import { systemProjections } from '../../adapters/runtime/projections.ts';
import { reactionsAtOnceFor, readDeadLettersAsFound, type DeadLetter } from '../../projections/cascade/index.ts';
import { readExpiryDeadLettersAsFound, type ExpiryDeadLetter } from '../../projections/expiry/index.ts';
import { PseudonymDeriver, pseudonymRotation } from '../../projections/pseudonyms/index.ts';
import {
  checkpointsOfAnotherLog,
  describeOtherLog,
  projectionLag,
  ProjectionRunner,
  readCheckpoint,
  ReadModelRulesChanged,
  type ProjectionLag,
  type SchemaChange,
} from '../../projections/runtime/index.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { handler, parseOptions, runCommands, UsageError, type RegisterCommands } from '../program.ts';
import { progressBar } from '../progress.ts';
import { openLocalStore, StoreArg } from './open-store.ts';
import { countUpTo } from './query.ts';
import { warnOfUnknownVariables } from './unknown-variables.ts';
import { clientOf, progressStream, readTarget, ServerOptions, withJson, withLocalStore, withServer, PathArg } from './options.ts';
import { signingPolicyOption, SigningArg } from './signing-option.ts';

const Options = z.object({
  store: StoreArg,
  signing: SigningArg,
  data: PathArg.optional(),
  json: z.boolean().default(false),
  ...ServerOptions,
});
type Options = z.infer<typeof Options>;

/**
 * The composition root's projections (adapters/runtime) over a local store and its read models, with the data
 * folder's lock: `required` (a rebuild: refused while a service runs) or `unless-held` (a status: beside a running
 * service the read models are only read, with no table set up and no checkpoint moved). The store is opened first, so
 * a folder without one is refused before anything is written to it, and the lock is taken before the read models are
 * opened: `runner()` sets up their tables as this version does, which could reset another version's under it.
 */
const openLocal = async (args: Options, io: Io, hold: 'required' | 'unless-held') => {
  await warnOfUnknownVariables(io);
  const signing = signingPolicyOption(args.signing, io);
  // A rebuild's cascade and expiry may append commands; a status only reads (open-store.ts StoreAccess).
  const { data, store } = openLocalStore(args, io, hold === 'required' ? 'write' : 'read');
  let lock: DataFolderLock | undefined;
  let db: ReturnType<typeof openReadModels> | undefined;
  try {
    // The command's env, not process.env: the KEK it names outside the folder is checked and swept beside with it.
    lock = hold === 'required' ? sayRemovedStrays(lockDataFolder(data, io.env ?? process.env), data, io, 'projections') : lockUnlessHeld(data, io, 'projections');
    db = openReadModels({ dir: data });
    if (lock === undefined) {
      db.pragma('query_only = ON');
      assertSetUp(db, data, 'projections');
    }
    const engine = createEngine({ store, clock: systemClock });
    const { projections } = systemProjections({ engine, reactionsAtOnce: reactionsAtOnceFor(store), ...(signing !== undefined ? { signing } : {}) });
    const opened = db;
    const held = lock;
    return {
      projections,
      /** The runner, which sets up every table: only for a process holding the folder. */
      runner: held === undefined ? undefined : () => new ProjectionRunner({ db: opened, store, projections }),
      /** Lets go of the folder once the tables are set up (a status need not hold it while it counts). */
      release: () => held?.release(),
      store,
      db: opened,
      close: async () => {
        try {
          opened.close();
        } finally {
          held?.release();
          await store.close();
        }
      },
    };
  } catch (error) {
    db?.close();
    lock?.release();
    await store.close();
    throw error;
  }
};

interface LagView {
  readonly name: string;
  readonly checkpoint?: unknown;
  readonly head?: unknown;
  /** Absent for a read model only the service can count (NOT_COUNTED). */
  readonly eventsBehind?: number | string;
  /**
   * `eventsBehind` is where its count stopped, at its limit (STATUS_COUNT_LIMIT locally, the server's own from a
   * server), and more may follow: the least the lag is (review 398).
   */
  readonly eventsBehindAtLeast?: true;
  readonly secondsBehind?: number;
  /** Only locally: a read model whose checkpoint fails the runner's log check, or one not counted here (its `--json` state). */
  readonly state?: typeof ANOTHER_LOG | typeof NOT_COUNTED;
}

/**
 * The state of a read model of the service's that this command neither builds nor knows the event types of: its
 * checkpoint and the head are shown, its events to handle are counted by the service (GET /v1/projections, --server).
 */
const NOT_COUNTED = 'counted-by-the-service';

/**
 * The state of a read model built from another log (projections/runtime/log-check.ts: its checkpoint past the store's
 * head, or naming an event the store holds otherwise, as after a restore of an older events.db). Its checkpoint counts
 * nothing against this store: the runner resets it and rebuilds it from position 0 at the service's next start. Only a
 * data folder's status shows it: a running service has done so already.
 */
const ANOTHER_LOG = 'another-log';

/**
 * A checkpoint is the position of the last event the projection handled, and `to handle` counts the events after it
 * of the types it reads (projectionLag): a checkpoint below the head with none to handle is up to date, the newer
 * events being of types it does not read. Review 46 read `pki 83 / head 84 / behind 0` as a contradiction: the column
 * says what it counts, and such rows are explained below the table.
 */
const printLags = (lags: readonly LagView[], io: Io): void => {
  const toHandle = (l: LagView): string =>
    l.eventsBehindAtLeast === true && l.eventsBehind !== undefined ? countUpTo(Number(l.eventsBehind), true) : String(l.eventsBehind ?? '-');
  io.out(`${'projection'.padEnd(12)} ${'checkpoint'.padStart(12)} ${'head'.padStart(12)} ${'to handle'.padStart(9)} ${'seconds'.padStart(9)}`);
  for (const l of lags) {
    io.out(
      printable(
        `${l.name.padEnd(12)} ${String(l.checkpoint ?? '-').padStart(12)} ${String(l.head ?? '-').padStart(12)} ${toHandle(l).padStart(9)} ${(l.secondsBehind === undefined ? '-' : l.secondsBehind.toFixed(0)).padStart(9)}`,
      ),
    );
  }
  // Review 198: read models past a restored store's head were named up to date here; they are another log's.
  const ofAnotherLog = lags.filter((l) => l.state === ANOTHER_LOG);
  if (ofAnotherLog.length > 0) io.out(printable(`built from another log: ${ofAnotherLog.map((l) => l.name).join(', ')}: rebuilt at the next start`));
  const notCounted = lags.filter((l) => l.state === NOT_COUNTED);
  if (notCounted.length > 0) io.out(printable(`counted by the service: ${notCounted.map((l) => l.name).join(', ')} (their events to handle are known only where they run: --server)`));
  const passedOver = lags.filter(
    (l) => l.state === undefined && l.head != null && String(l.checkpoint ?? '-') !== String(l.head) && l.eventsBehind === 0 && l.eventsBehindAtLeast !== true,
  );
  if (passedOver.length > 0) {
    const names = passedOver.map((l) => l.name).join(', ');
    io.out(printable(`up to date: ${names} (the events after the checkpoint, the last event handled, are of types not read there)`));
  }
};

interface CascadeLetterView {
  readonly stream: string;
  readonly command: string;
  readonly eventType: string;
  readonly position: unknown;
  readonly occurredAt: string;
  readonly reason: string;
}

interface ExpiryLetterView {
  readonly stream: string;
  readonly purpose: string;
  readonly command: string;
  /** ISO 8601, as the service sends it. */
  readonly due: string;
  readonly reason: string;
}

/** One kind of dead letter as printed: its heading, what an operator does about one, and its line. */
interface DeadLetterKind<T> {
  readonly heading: string;
  readonly remedy: string;
  readonly line: (letter: T) => string;
}

const CASCADE_LETTERS: DeadLetterKind<CascadeLetterView> = {
  heading: 'cascade dead letters',
  remedy: 'not retried; one goes when its stream ends, the reaction carried out by hand',
  line: (d) => `${String(d.position)} ${d.occurredAt} ${d.eventType}: ${d.command} ${d.stream}: ${d.reason}`,
};

const EXPIRY_LETTERS: DeadLetterKind<ExpiryLetterView> = {
  heading: 'expiry dead letters',
  remedy: 'not retried and the entity not ended; one goes when its entity is ended by hand',
  line: (d) => `${d.due} ${d.purpose}: ${d.command} ${d.stream}: ${d.reason}`,
};

/** Each kind's dead letters listed at most; the rest are counted. */
const DEAD_LETTERS_LISTED = 100;

/**
 * What the cascade or the expiry scheduler could not carry out (review 139: only their count was anywhere, on
 * /metrics; the expiry scheduler's stayed a count for longer), each with the stream to act on; nothing when there are
 * none, so the table reads as it did.
 */
const printDeadLetters = <T,>(kind: DeadLetterKind<T>, letters: readonly T[], total: number, io: Io): void => {
  if (total === 0) return;
  io.out(`${kind.heading}: ${total} (${kind.remedy})`);
  for (const d of letters) io.out(printable(`  ${kind.line(d)}`));
  if (total > letters.length) io.out(`  and ${total - letters.length} more`);
};

/** A data folder's (readTableAsFound): beside a service of an earlier version its own table is counted, not read (review 140). */
const printDeadLettersFound = <T,>(kind: DeadLetterKind<T>, found: { readonly rows?: readonly T[]; readonly total?: number }, io: Io): void => {
  if (found.rows !== undefined) printDeadLetters(kind, found.rows, found.total ?? 0, io);
  else if (found.total !== 0) {
    const count = found.total === undefined ? 'not read here' : String(found.total);
    io.out(`${kind.heading}: ${count} (its dead letters are listed once the service runs this version, or ask the service: --server)`);
  }
};

/** What a status that found a read model's tables of another version says: emptied, and what rebuilds it. */
const emptiedUntilRebuilt = (change: SchemaChange): string => {
  const what = change.stored > change.version ? `written by a newer Credence (version ${change.stored})` : `written by version ${change.stored}, this is version ${change.version}`;
  const letters = change.name === 'cascade' ? ' (its dead letters too, known again once it is)' : '';
  return `${change.name}: ${what}: emptied, and rebuilt from the events at the service's next start or by credence projections rebuild ${change.name}${letters}`;
};

/**
 * Events to handle counted at most for each read model of a data folder's status: a folder being rebuilt is behind by
 * its whole log, and counting it all would read it all. A count that stopped there (projectionLag's
 * `eventsBehindAtLeast`, possibly under it when records read were passed over) is said as at least that many, in text
 * as `credence query` says its own (`1000000 or more`), and with `--json` as `eventsBehindAtLeast` (review 398: it was
 * printed as the exact lag).
 */
const STATUS_COUNT_LIMIT = 1_000_000;

/** One read model's row of a data folder's status: counted here, or (NOT_COUNTED) only its checkpoint and the head. */
type LocalLag =
  | (ProjectionLag & Pick<LagView, 'state' | 'eventsBehindAtLeast'>)
  | { readonly name: string; readonly checkpoint: bigint | undefined; readonly head: bigint | undefined; readonly state: typeof NOT_COUNTED };

/** Asked nothing: the projections are built for their names alone, which opens and sends nothing. */
const NAMES_ONLY: CommandSink = {
  execute: () => Promise.reject(new Error('projection names only: no command is sent')),
  executeAsSystem: () => Promise.reject(new Error('projection names only: no command is sent')),
  view: () => Promise.reject(new Error('projection names only: no entity is read')),
  clock: systemClock,
};

/**
 * The service's own read models this command does not build, for their names and event types alone: pseudonym
 * rotation needs the Secure Environment's key, never asked here (its lag is a count of events by type). Review 233:
 * they were left out of the status, which named the rest up to date over a pseudonym directory behind the head.
 */
const SERVICE_ONLY = [
  pseudonymRotation({ engine: NAMES_ONLY, deriver: new PseudonymDeriver({ prf: () => Promise.reject(new Error('projection names only: no pseudonym is derived')) }) }),
];

/**
 * Every read model of the folder: this command's projections, then each other checkpoint the folder holds, counted
 * by its event types where known here (SERVICE_ONLY), otherwise shown with its checkpoint for the service to count.
 */
const localLags = async (local: Pick<Awaited<ReturnType<typeof openLocal>>, 'projections' | 'db' | 'store'>): Promise<LocalLag[]> => {
  const lags: LocalLag[] = [];
  const counted = (projection: Parameters<typeof projectionLag>[2]): Promise<LocalLag> => projectionLag(local.db, local.store, projection, STATUS_COUNT_LIMIT);
  for (const projection of local.projections) lags.push(await counted(projection));
  const names = (local.db.prepare('SELECT name FROM projection_checkpoints ORDER BY name').pluck().all() as string[]).filter((n) => !lags.some((l) => l.name === n));
  for (const name of names) {
    const known = SERVICE_ONLY.find((p) => p.name === name);
    if (known !== undefined) lags.push(await counted(known));
    else lags.push({ name, checkpoint: readCheckpoint(local.db, name)?.position, head: await local.store.headPosition(), state: NOT_COUNTED });
  }
  return lags;
};

/** What a folder holds of one kind of dead letter, as GET /v1/projections names it: `letters` and `total`. */
const deadLettersFound = <T, W>(found: { readonly rows?: readonly T[]; readonly total?: number }, wire: (letter: T) => W): { letters?: W[]; total?: number } => ({
  ...(found.rows !== undefined ? { letters: found.rows.map(wire) } : {}),
  ...(found.total !== undefined ? { total: found.total } : {}),
});

/**
 * The data folder's status in the document GET /v1/projections answers (review 150: locally `--json` was a bare list
 * of lags, without the dead letters the text lists), with the letters' fields as the server sends them. What only a
 * running service knows is not there: the components beside the projections (pseudonym rotation, the transparency
 * log) and the error one retries past; `lag` is the largest of these projections'. Beside a service of an earlier
 * version a kind of dead letter whose table it keeps in another shape is only counted, and one it has no table for is
 * left out, as an earlier server leaves them out.
 */
const localStatus = (lags: readonly LocalLag[], db: ReturnType<typeof openReadModels>) => {
  const cascade = deadLettersFound(readDeadLettersAsFound(db, DEAD_LETTERS_LISTED), (d: DeadLetter) => ({
    stream: d.stream, command: d.command, target: d.target, eventType: d.eventType, position: String(d.position), occurredAt: d.occurredAt, reason: d.reason,
  }));
  const expiry = deadLettersFound(readExpiryDeadLettersAsFound(db, DEAD_LETTERS_LISTED), (d: ExpiryDeadLetter) => ({
    stream: d.stream, purpose: d.purpose, command: d.command, due: new Date(d.due).toISOString(), code: d.code, reason: d.reason,
  }));
  const counted = lags.filter((l): l is ProjectionLag & Pick<LagView, 'state' | 'eventsBehindAtLeast'> => l.state !== NOT_COUNTED);
  const eventsBehind = Math.max(0, ...counted.map((l) => l.eventsBehind));
  return {
    components: lags,
    lag: {
      eventsBehind,
      // The largest is at least that many when any count stopped at its limit: that one may be the largest.
      ...(counted.some((l) => l.eventsBehindAtLeast === true) ? { eventsBehindAtLeast: true } : {}),
      secondsBehind: Math.max(0, ...counted.map((l) => l.secondsBehind)),
    },
    ...(cascade.letters !== undefined ? { cascadeDeadLetters: cascade.letters } : {}),
    ...(cascade.total !== undefined ? { cascadeDeadLettersTotal: cascade.total } : {}),
    ...(expiry.letters !== undefined ? { expiryDeadLetters: expiry.letters } : {}),
    ...(expiry.total !== undefined ? { expiryDeadLettersTotal: expiry.total } : {}),
  };
};

const status = async (args: Options, io: Io): Promise<number> => {
  const target = readTarget(args, io);
  if (target !== undefined) {
    // Refused rather than unheeded, as `query` refuses it (review 150: it was dropped without a word).
    if (args.signing !== undefined) throw new UsageError('--signing: the server holds its own signing policy; give it only with --data/--store');
    // GET /v1/projections: every live component (the projections and the other followers of the store) and the largest lag.
    const status = await clientOf(target).projections();
    if (args.json) {
      io.out(json(status));
      return 0;
    }
    printLags(status.components, io);
    for (const c of status.components) if (c.error !== undefined) io.out(printable(`  ${c.name}: retrying past ${c.error}`));
    io.out(`live: ${countUpTo(status.lag.eventsBehind, status.lag.eventsBehindAtLeast)} events, ${status.lag.secondsBehind.toFixed(0)} seconds behind at most`);
    printDeadLetters(CASCADE_LETTERS, status.cascadeDeadLetters ?? [], status.cascadeDeadLettersTotal ?? 0, io);
    printDeadLetters(EXPIRY_LETTERS, status.expiryDeadLetters ?? [], status.expiryDeadLettersTotal ?? 0, io);
    return 0;
  }
  const local = await openLocal(args, io, 'unless-held');
  try {
    // Held: the tables are set up (a new folder has none), and the folder let go. Beside a service they are only read.
    // Tables of another version are emptied by that set-up, and rebuilt only by a catch-up this command does not run:
    // said, as the service says it (review 141: the cascade's dead letters of the version before were gone unsaid).
    for (const change of local.runner?.().schemaChanges() ?? []) io.err(printable(`note: ${emptiedUntilRebuilt(change)}`));
    local.release();
    const measured = await localLags(local);
    // The runner's own check, read only: what the next start resets (one record read for each read model).
    const others = await checkpointsOfAnotherLog(local.db, local.store, measured.map((l) => l.name));
    // One only the service counts keeps that state: its checkpoint's line below says what the next start does with it.
    const lags = measured.map((l): LocalLag => (l.state !== NOT_COUNTED && others.some((o) => o.name === l.name) ? { ...l, state: ANOTHER_LOG } : l));
    const found = localStatus(lags, local.db);
    if (args.json) io.out(json(found));
    else {
      printLags(lags, io);
      for (const other of others) io.out(printable(`  ${describeOtherLog(other)}`));
      printDeadLettersFound(CASCADE_LETTERS, { rows: found.cascadeDeadLetters, total: found.cascadeDeadLettersTotal }, io);
      printDeadLettersFound(EXPIRY_LETTERS, { rows: found.expiryDeadLetters, total: found.expiryDeadLettersTotal }, io);
    }
    return 0;
  } finally {
    await local.close();
  }
};

const rebuild = async (name: string, args: Options, io: Io): Promise<number> => {
  if (readTarget(args, io) !== undefined) throw new UsageError('--server: a rebuild runs on the data folder of the server (stop it, then credence projections rebuild --data DIR)');
  // The name before the folder is opened (review 150: a typo left a new empty readmodels.db behind its refusal, and
  // beside a running service was reported as the lock's), from the composition root's own list.
  const known = systemProjections({ engine: NAMES_ONLY, reactionsAtOnce: 1 }).projections.map((p) => p.name);
  if (name !== 'all' && !known.includes(name)) throw new UsageError(`unknown projection ${name} (known: ${known.join(', ')}, all)`);
  // Not beside a running service: it would go on answering (CRLs, OCSP, its caches) from a read model emptied
  // under it, and would not see the rebuild's rows arrive through its own invalidations.
  const local = await openLocal(args, io, 'required');
  const { store, close } = local;
  try {
    const names = name === 'all' ? local.projections.map((p) => p.name) : [name];
    const runner = local.runner!();
    // All or nothing: `all` re-judges no read model under other rules than built it (the audit trail under another
    // signing policy, or none for want of --signing: found in review, its verified and invalid rows became `signed`).
    // Checked before any is emptied; naming `audit` (with --signing FILE) is how an operator changes its policy.
    if (name === 'all') {
      const [change] = runner.rulesChanges(names);
      if (change !== undefined) throw new ReadModelRulesChanged(change);
    }
    const stream = progressStream(io, args.json);
    const total = stream === undefined ? 0 : Number((await store.headPosition()) ?? 0n);
    // One --json document for the whole run, written once every read model is rebuilt (review 150: `all` printed six).
    const rebuilt: { name: string; events: number; rules?: string }[] = [];
    for (const n of names) {
      const bar = stream === undefined ? undefined : progressBar(stream, total, `events into ${n}`);
      bar?.update(0);
      const count = await runner.rebuild(n);
      bar?.update(count);
      bar?.finish();
      // Under which rules, for a read model that has them (the audit trail: which signing policy judged its rows).
      const rules = local.projections.find((p) => p.name === n)?.rules;
      if (args.json) rebuilt.push({ name: n, events: count, ...(rules !== undefined ? { rules: rules.description } : {}) });
      else io.out(printable(`rebuilt ${n} from position 0: ${count} events${rules !== undefined ? `, under ${rules.description}` : ''}`));
    }
    if (args.json) io.out(json({ rebuilt }));
    return 0;
  } finally {
    await close();
  }
};

const withOptions = (command: Command): Command =>
  withJson(withServer(withLocalStore(command))).option(
    '--signing <file>',
    "the deployment's request-signing policy (JSON), so the audit trail records verified / invalid",
  );

/**
 * `credence projections [status] [--json]`: each projection's checkpoint and lag (events and seconds behind),
 * locally or from a server. `credence projections rebuild <name|all>`: empties a read model and replays it from
 * position 0 (locally). The projections are the composition root's (adapters/runtime), with the signing policy of
 * `--signing`. Pseudonym rotation needs the Secure Environment's key and is rebuilt by the process that holds it.
 */
export const register: RegisterCommands = (program, io) => {
  const projections = program.command('projections').description("each projection's checkpoint and lag; rebuild a read model from position 0");
  const statusCommand: Command = withOptions(projections.command('status', { isDefault: true }))
    .description("each projection's checkpoint, the store's head and how far behind it is (the default)")
    .action(handler(io, async (opts: Record<string, unknown>) => status(parseOptions(statusCommand, Options, opts), io)));
  const rebuildCommand: Command = withOptions(projections.command('rebuild'))
    .description(
      'empty a read model and replay it from position 0 (on the local data folder). `all` is refused, rebuilding nothing, ' +
        'when the audit trail was built under another signing policy than --signing gives (or none): rebuild `audit` by name to change it',
    )
    .argument('<name>', 'a projection name, or all')
    .action(handler(io, async (name: string, opts: Record<string, unknown>) => rebuild(name, parseOptions(rebuildCommand, Options, opts), io)));
};

export const projections = (argv: string[], io: Io): Promise<number> => runCommands([register], ['projections', ...argv], io);
