import { WholeNumber } from '../../domain/whole-number.ts';
import type { Command } from 'commander';
import { z } from 'zod';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { eventsDbRangeSourceInDir } from '../../adapters/driven/store/sqlite/events-db-reader.ts';
import { CheckpointFile, type CheckpointHold } from '../../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { describeHolder, SERVICE_LOCK_FILE, tryLockDataFolder } from '../../adapters/runtime/data-folder.ts';
import { isCredenceError } from '../../domain/errors.ts';
import type { ReplayCheckpoint } from '../../projections/replay/checkpoint.ts';
import { findingsByNewerRules, findingsFollowingNewerRules } from '../../projections/replay/index.ts';
import { verifyFleet, type FleetCheckpointKeeper, type FleetVerification } from '../../adapters/replay-workers/verify-fleet.ts';
import type { FleetReplayJson } from '../../adapters/client/answers.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { handler, parseOptions, runCommands, UsageError, type RegisterCommands } from '../program.ts';
import { progressBar } from '../progress.ts';
import { localEventsDir, localSource, StoreArg } from './open-store.ts';
import { progressStream, ServerOptions, withJson, withLocalStore, withServer, PathArg } from './options.ts';
import { readFromSource } from './read-source.ts';
import { sayRemovedStrays } from './folder-lock.ts';

const Options = z.object({
  data: PathArg.optional(),
  store: StoreArg,
  json: z.boolean().default(false),
  full: z.boolean().default(false),
  workers: WholeNumber(1, 64).optional(),
  ...ServerOptions,
});
type Options = z.infer<typeof Options>;

/** The fleet verdict as the engine or the API gives it (positions as bigints or decimal strings). */
interface FleetReplayView {
  readonly events: number | string;
  readonly kinds: Readonly<Record<string, { entities: number; events: number; states: Readonly<Record<string, number>> }>>;
  readonly foreignEvents: number;
  readonly findings: readonly { streamId: string; position: unknown; revision: unknown; reason: string; followsFrom?: unknown }[];
  readonly brokenStreams: readonly string[];
  /** How many there are: the API lists only the first findings and broken streams. */
  readonly brokenStreamsTotal: number;
  readonly findingsTotal: number;
  /** Of them, those by a rule newer than the stored event (docs/service.md, Upgrading); absent from a server before it. */
  readonly findingsByNewerRules?: number;
  /** Of them, those that follow from a finding by a newer rule (`followsFrom`); absent from a server before it. */
  readonly findingsFollowingNewerRules?: number;
  /**
   * How this verdict was reached (a checkpoint continued, or the whole log) and any alteration found. From a server,
   * whose verdict goes on from the one it keeps in memory, not from a checkpoint file: no `from`, and no alteration.
   */
  readonly verification: {
    readonly mode: FleetVerification['mode'];
    readonly from?: string;
    readonly verifiedNow: number;
    readonly altered?: { readonly position: string; readonly reason: string };
    readonly notes: readonly string[];
  };
}

/** A verdict's findings as counted (GET /v1/replay, `credence replay --json`): of `findingsTotal`, those by newer rules and those following them. */
export interface FindingCounts {
  readonly findingsTotal: number;
  /** Absent from a server before the counts: every finding is then taken as it is. */
  readonly findingsByNewerRules?: number | undefined;
  readonly findingsFollowingNewerRules?: number | undefined;
}

/**
 * How many of a verdict's findings are of broken histories: neither by a rule newer than the stored event nor
 * following from one (docs/service.md, Upgrading). The one count every command words its verdict by (review 323:
 * `credence replay` and `credence state --at` called a finding by a newer rule a broken history where `credence
 * demo`'s summary said none); a verdict with any finding exits 1 all the same.
 */
export const brokenHistoryFindings = (counts: FindingCounts): number =>
  counts.findingsTotal - (counts.findingsByNewerRules ?? 0) - (counts.findingsFollowingNewerRules ?? 0);

/** The findings by rules newer than their stored events, and those that follow from them, in words; none without them. */
export const newerRulesNote = (counts: FindingCounts): string | undefined => {
  const newer = counts.findingsByNewerRules ?? 0;
  const following = counts.findingsFollowingNewerRules ?? 0;
  if (newer === 0 && following === 0) return undefined;
  // Nothing in the folder dates an event to the version that stored it (its metadata names none, and a replay
  // checkpoint says only which machines judged it): a rule newer than some version is all replay knows (review 321).
  const leftover =
    'left by an upgrade if an earlier version stored them, else written behind the engine (nothing in the store tells which): see Upgrading in docs/service.md';
  // One entity's findings may all follow another entity's finding by a newer rule (review 339: nothing was said).
  if (newer === 0) return `${following} of the ${counts.findingsTotal} findings follow from another entity's finding by a rule newer than the stored events, ${leftover}`;
  const followers = following > 0 ? ` and ${following} follow from them` : '';
  return `${newer} of the ${counts.findingsTotal} findings are by rules newer than the stored events${followers}, ${leftover}`;
};

/** A one-entity finding as the counts read it, from this build's replay or a server's answer (positions as decimal strings). */
const CountedFinding = z.object({
  position: z.union([z.bigint(), z.string().regex(/^\d{1,30}$/)]).transform(BigInt),
  ruleSince: z.string().optional().catch(undefined),
  followsFrom: z.object({ streamId: z.string(), position: z.union([z.bigint(), z.string().regex(/^\d{1,30}$/)]).transform(BigInt) }).optional().catch(undefined),
});

/**
 * One entity's verdict with findings (`credence state --at`, `credence history`), counted as the fleet's: by the rule
 * each refusal carries (`ruleSince`) and the earlier finding of its stream it follows from (`followsFrom`; review 325:
 * a refusal following only from a newer-rule finding was a broken history here and none in `credence replay`). A
 * server of an earlier version answers neither on these findings (or no `followsFrom`): each is then taken as it is.
 */
export const entityVerdict = (findings: readonly { readonly position: unknown; readonly ruleSince?: unknown; readonly followsFrom?: unknown }[]): { readonly broken: boolean; readonly note?: string } => {
  // A finding whose position cannot be read (a server's answer out of shape) is counted, as a broken history.
  const counted = findings.flatMap((f) => {
    const read = CountedFinding.safeParse(f);
    if (!read.success) return [];
    const { position, ruleSince, followsFrom } = read.data;
    return [{ position, ...(ruleSince !== undefined ? { ruleSince } : {}), ...(followsFrom !== undefined ? { followsFrom } : {}) }];
  });
  const counts = { findingsTotal: findings.length, findingsByNewerRules: findingsByNewerRules(counted), findingsFollowingNewerRules: findingsFollowingNewerRules(counted) };
  const note = newerRulesNote(counts);
  return { broken: brokenHistoryFindings(counts) > 0, ...(note !== undefined ? { note } : {}) };
};

const print = (result: FleetReplayView, io: Io): void => {
  const v = result.verification;
  if (v.mode === 'incremental' && v.from !== undefined) {
    io.out(`replayed ${result.events} events (${v.verifiedNow} new after the checkpoint at position ${v.from}; --full verifies them all again)`);
    // The checkpoint file sits in the data folder: the verdict on what it covers is only as good as that file.
    io.out(`  note: the events up to position ${v.from} were judged by an earlier run (replay-checkpoint.json), not read again`);
  } else if (v.mode === 'incremental') {
    // A server's (review 150: its text said "replayed 30 events" over a verdict that verified none of them now).
    io.out(`replayed ${result.events} events (${v.verifiedNow} new since the server's previous verdict; --full verifies them all again)`);
    io.out(`  note: the other ${Math.max(0, Number(result.events) - v.verifiedNow)} were judged by the server's earlier verdict, which it keeps in memory, not read again`);
  } else io.out(`replayed ${result.events} events`);
  for (const note of v.notes) io.out(printable(`  note: ${note}`));
  for (const [kind, s] of Object.entries(result.kinds)) {
    if (s.entities === 0) continue;
    const states = Object.entries(s.states).map(([st, n]) => `${st} ${n}`).join(', ');
    io.out(printable(`  ${kind.padEnd(13)} ${String(s.entities).padStart(7)} entities ${String(s.events).padStart(8)} events   ${states}`));
  }
  if (result.foreignEvents > 0) io.out(`  (${result.foreignEvents} events in non-entity streams not replayed)`);
  if (v.altered !== undefined) io.out(printable(`history altered: ${v.altered.reason}`));
  if (result.findings.length === 0 && v.altered === undefined) io.out('verdict: every stored transition is legal');
  else if (result.findings.length === 0) io.out('verdict: every stored transition is legal, but the history was altered behind the checkpoint');
  else {
    // Broken histories are the findings neither by a newer rule nor following from one (brokenHistoryFindings).
    const broken = brokenHistoryFindings(result);
    if (broken === 0) io.out('verdict: no broken history');
    else if (broken === result.findingsTotal) io.out(`verdict: ${result.brokenStreamsTotal} broken histories`);
    else io.out(`verdict: broken histories: ${broken} of the ${result.findingsTotal} findings`);
    const note = newerRulesNote(result);
    if (note !== undefined) io.out(`  note: ${note}`);
    for (const f of result.findings) io.out(printable(`  ${f.streamId} @ position ${String(f.position)} (revision ${String(f.revision)}): ${f.reason}${followsText(f.followsFrom)}`));
    const more = result.findingsTotal - result.findings.length;
    if (more > 0) io.out(`  … and ${more} more findings (credence replay --json --data DIR lists them all)`);
  }
};

/** A finding's `followsFrom`, from this build's verdict or a server's answer (read here: the client passes it unread). */
const FollowsFrom = z.object({ streamId: z.string().max(300), position: z.union([z.bigint(), z.string().regex(/^\d{1,30}$/)]) });

/** What a line of the text verdict adds for a finding that follows from an earlier one (`credence state --at`'s too). */
export const followsText = (followsFrom: unknown): string => {
  const read = FollowsFrom.safeParse(followsFrom);
  return read.success ? ` (follows from the finding on ${read.data.streamId} at position ${String(read.data.position)})` : '';
};

/**
 * The data folder's lock for the checkpoint's write alone (the replay reads without it): the checkpoint is written
 * only by the process holding the folder, as every file of the folder is, so the holder's sweep of interrupted
 * writes' temps (atomic-write-strays.ts) never meets a write of ours in flight, and two replays' writes are one after
 * the other (saveHeld: neither over a file the other wrote since it read). Beside a running service (or any holder)
 * it is not written, rather than written beside its lock, as `projections` beside a service writes nothing: the run's
 * verdict stands, the next run goes on from the checkpoint there is (or verifies in full), and the service keeps its
 * own incremental verdict (--server). A folder the lock refuses (open to others, another account's) is not written to
 * either. The price, as for a `projections` status: a service started during that one write is refused, and says by
 * whom.
 */
const holdDataFolder = (dir: string, io: Io): CheckpointHold => () => {
  let taken: ReturnType<typeof tryLockDataFolder>;
  try {
    taken = tryLockDataFolder(dir, [], io.env ?? process.env);
  } catch (error) {
    if (!isCredenceError(error, 'validation')) throw error;
    return `${dir} cannot be locked: ${error.message}`;
  }
  // The holder as its lock file describes it: another process's words, printed through printable by the caller.
  if (!('lock' in taken)) {
    return (
      `${dir} is in use by ${describeHolder(taken.heldBy)} (${SERVICE_LOCK_FILE}), which alone writes in it; ` +
      'the next run goes on from the checkpoint there is (--server asks the service, which keeps its own)'
    );
  }
  const lock = sayRemovedStrays(taken.lock, dir, io, 'replay');
  return () => lock.release();
};

/**
 * The data folder's checkpoint, written under its lock (holdDataFolder); why it was not written (another holder, or a
 * write the OS refused: review 228), on stderr and into `unsaved` (the --json verdict's notes: a script must know its
 * next run verifies from an older checkpoint, review 65).
 */
const lockedCheckpoint = (dir: string, io: Io, unsaved: string[], read: { checkpoint?: ReplayCheckpoint }): FleetCheckpointKeeper => {
  const file = new CheckpointFile(dir);
  return {
    path: file.path,
    load: () => {
      const loaded = file.load();
      // Kept as read, before a full verification replaces it, for what that run must say of it (checkpointDisagrees).
      if (loaded?.ok === true) read.checkpoint = loaded.checkpoint;
      return loaded;
    },
    save: (checkpoint, beside, options) => {
      const saved = file.saveHeld(checkpoint, holdDataFolder(dir, io), beside, options);
      // What it moved aside: a note of the verdict's (verify-fleet.ts).
      if (!('unsaved' in saved)) return saved.said;
      unsaved.push(`the replay checkpoint is not saved: ${saved.unsaved}`);
      io.err(printable(`credence replay: the replay checkpoint is not saved: ${saved.unsaved}`));
      return undefined;
    },
    keptEarlier: () => file.keptEarlier(),
  };
};

/**
 * Workers spread a verification in full: with --full, or a run with no checkpoint it can go on from (the first one). One
 * that goes on from the checkpoint verifies the new events on this thread, and says so (review 186: `--workers 2`
 * without `--full` was taken without a word, as if it had been heeded).
 */
const unusedWorkers = (workers: number | undefined, mode: FleetVerification['mode'], verifiedNow: number): string[] =>
  workers !== undefined && workers > 1 && mode === 'incremental'
    ? [
        `--workers ${workers}: not used: this run went on from the checkpoint and verified the ${verifiedNow} events after it on this thread; ` +
          'workers serve a verification in full (--full, or a run with no checkpoint to go on from)',
      ]
    : [];

/**
 * Why the data folder's checkpoint is left alone: it is the verdict on the folder's own store (review 284: `--data A
 * --store sqlite:B` wrote B's into A, whose own replay then said "history altered", and took A's for B's, saying B was
 * "another history"). Worded by what is known here (review 294): any --store but the folder's events.db, its own
 * EventStoreDB named by --store too, is not taken for the folder's store; CREDENCE_STORE is, as for the service.
 */
const NOT_THE_FOLDERS_STORE =
  "a store named by --store other than the folder's own events.db is verified in full and the folder's replay checkpoint is neither read nor written (set CREDENCE_STORE, as the service does, to go on from it)";

/**
 * What a full verification must say of the checkpoint it read (review 284): findings up to its position other than
 * those it found there. The file sits in the data folder, and one edited consistently (its findings removed) is gone
 * on from by the next run; `--full` is the audit, so it says so before its verdict replaces the file. Not over an
 * altered history, which is reported as such, and whose findings are another history's.
 */
const checkpointDisagrees = (checkpoint: ReplayCheckpoint | undefined, verification: FleetVerification): string[] => {
  if (checkpoint === undefined || verification.mode !== 'full' || verification.altered !== undefined) return [];
  const upTo = BigInt(checkpoint.position);
  const key = (f: { streamId: string; position: bigint | string; revision: bigint | string; type: string; reason: string; rule?: string | undefined; ruleSince?: string | undefined }): string =>
    JSON.stringify([f.streamId, String(f.position), String(f.revision), f.type, f.reason, f.rule ?? null, f.ruleSince ?? null]);
  // Every finding the file holds: one past its position is no finding of the history it verified either.
  const held = checkpoint.findings.map(key).sort();
  const found = verification.replay.findings.filter((f) => f.position <= upTo).map(key).sort();
  if (held.length === found.length && held.every((k, i) => k === found[i])) return [];
  return [
    `the replay checkpoint held ${held.length} findings up to position ${upTo}, the full verification found ${found.length} there: ` +
      'the checkpoint was altered or written by other rules',
  ];
};

const replayLocal = async (store: EventStore, args: Options, io: Io): Promise<FleetReplayView> => {
  const stream = progressStream(io, args.json);
  // On the embedded store the head position is the number of stored events: the bar's total.
  const progress = stream === undefined ? undefined : progressBar(stream, Number((await store.headPosition()) ?? 0n), 'events replayed');
  // The checkpoint lives with the read models (the data folder), and is the verdict on the folder's own store alone
  // (servedFrom): another store, or one without a local folder, verifies in full.
  const { folder, servedFrom } = localSource(args, io.env ?? process.env);
  const dir = folder.dir;
  // Workers over the embedded store read their own partitions from its file (adapters/replay-workers/pool.ts).
  // The file of the store the command reads (localEventsDir: --store, CREDENCE_STORE, else the folder's events.db).
  const eventsDir = localEventsDir(args, io.env ?? process.env);
  const unsaved: string[] = [];
  const read: { checkpoint?: ReplayCheckpoint } = {};
  const result = await verifyFleet(store, {
    full: args.full,
    workers: args.workers ?? 1,
    ...((args.workers ?? 1) > 1 && eventsDir !== undefined ? { source: eventsDbRangeSourceInDir(eventsDir) } : {}),
    ...(servedFrom && existsSync(dir) ? { checkpoint: lockedCheckpoint(dir, io, unsaved, read) } : {}),
    ...(progress !== undefined ? { onProgress: progress.update } : {}),
  });
  progress?.finish();
  const { mode, from, verifiedNow, altered } = result;
  const notes = [
    ...(servedFrom ? [] : [NOT_THE_FOLDERS_STORE]),
    ...checkpointDisagrees(read.checkpoint, result),
    ...result.notes,
    ...unusedWorkers(args.workers, mode, verifiedNow),
  ];
  const reason = altered === undefined ? undefined : altered.reason + (await restoreHint(store, altered, dir));
  return {
    ...result.replay,
    // Whole lists here, counted as a server counts its first ones, so that --json has one shape either way.
    findingsTotal: result.replay.findings.length,
    findingsByNewerRules: findingsByNewerRules(result.replay.findings),
    findingsFollowingNewerRules: findingsFollowingNewerRules(result.replay.findings),
    brokenStreamsTotal: result.replay.brokenStreams.length,
    verification: {
      mode, from: from.toString(10), verifiedNow, notes: args.json ? [...notes, ...unsaved] : notes,
      ...(altered !== undefined ? { altered: { position: altered.position.toString(10), reason: reason! } } : {}),
    },
  };
};

/** GET /v1/replay's `findingsByNewerRules` and `findingsFollowingNewerRules`, read here: the client's answer schema passes fields it does not name. */
const NewerRulesCount = z.number().int().nonnegative().optional();

/**
 * A server's verdict in the shape of a local one (review 150: `mode` and `verifiedNow` were top-level from a server,
 * under `verification` locally, and the text left an incremental server verdict unsaid).
 */
const fromServer = (answer: FleetReplayJson): FleetReplayView => {
  const { mode, verifiedNow, ok: _ok, findingsByNewerRules: newer, findingsFollowingNewerRules: following, ...verdict } = answer;
  // A server from before it does not count them: left out then, not guessed from the first findings.
  const counted = NewerRulesCount.safeParse(newer);
  const followingCounted = NewerRulesCount.safeParse(following);
  // A server from before them verified the whole log for every request.
  return {
    ...verdict,
    ...(counted.success && counted.data !== undefined ? { findingsByNewerRules: counted.data } : {}),
    ...(followingCounted.success && followingCounted.data !== undefined ? { findingsFollowingNewerRules: followingCounted.data } : {}),
    verification: { mode: mode ?? 'full', verifiedNow: verifiedNow ?? answer.events, notes: [] },
  };
};

/**
 * A store that ends before the checkpoint's position, or holds another event where it ends (grown again since), is
 * most often an events.db restored from a backup with the checkpoint file left in place (README, restoring events.db,
 * step 3), not tampering: named so that the operator finds the file and the step (reviews 51, 228). Empty otherwise.
 * Worded by the store's kind (review 371): an EventStoreDB store has no events.db, its restore is the cluster's, and
 * its head may be another application's record, so Credence's newest one is what the checkpoint is held to.
 */
const restoreHint = async (store: EventStore, altered: NonNullable<FleetVerification['altered']>, dir: string): Promise<string> => {
  const file = join(dir, 'replay-checkpoint.json');
  const embedded = store.gapless === true;
  const step = embedded
    ? 'After restoring events.db from a backup, remove that file (README, restoring events.db, step 3) and run credence replay again'
    : "After restoring the store's cluster from a backup, remove that file and run credence replay again";
  // An event's id alone cannot tell a restore from a rewrite that changed the id there too (review 235), and the file
  // is the evidence of a rewrite: the hint asks for the backup to be checked before it is removed.
  if (altered.anotherHistory === true) {
    return (
      `; ${file} was written over another history, or the events up to it were rewritten, the event at its position too: ` +
      `its id alone does not tell which. Keep the file until the restored ${embedded ? 'events.db' : 'store'} is known to be the backup (its copy, or ` +
      `credence verify of an entity's evidence against the transparency log). ${step}`
    );
  }
  const head = embedded || store.ownHeadPosition === undefined ? await store.headPosition() : await store.ownHeadPosition();
  if (head !== undefined && head >= altered.position) return '';
  return embedded
    ? `; ${file} was written over a longer history. ${step}; otherwise events were removed from the store`
    : `; ${file} was written over a longer history of Credence's, which never removes its records. ${step}; otherwise Credence's events were removed from the store`;
};

/**
 * `credence replay [--data DIR | --store URL | --server URL] [--full] [--workers N] [--json]`: every entity through its
 * machine; exit 1 on any broken history or a history altered behind the replay checkpoint. Locally, a checkpoint in the
 * data folder makes a re-run of the folder's own store verify only the new events; `--full` verifies them all, checks
 * the history behind the checkpoint and says when its findings there are not the checkpoint's.
 */
export const register: RegisterCommands = (program, io) => {
  const command: Command = withJson(withServer(withLocalStore(program.command('replay'))))
    .description('replay every entity through its machine with every guard; exit 1 on a broken history')
    .option('--full', 'verify every stored event again, not only those after the replay checkpoint, and check the history and findings behind it')
    .option('--workers <n>', 'worker threads for a verification in full: with --full, or a run with no checkpoint to go on from (default 1: this thread)')
    .action(
      handler(io, async (opts: Record<string, unknown>) => {
        const args = parseOptions(command, Options, opts);
        const result = await readFromSource<FleetReplayView>(args, io, (store) => replayLocal(store, args, io), (client) => {
          // The server verifies with its own threads: a count asked of it would go unheeded, so it is refused.
          if (args.workers !== undefined) throw new UsageError('--workers: a --server replay runs on the server, with its own threads; leave it out');
          return client.replay({ full: args.full }).then(fromServer);
        });
        const ok = result.findingsTotal === 0 && result.verification.altered === undefined;
        if (args.json) io.out(json({ ok, ...result }));
        else print(result, io);
        return ok ? 0 : 1;
      }),
    );
};

/** The command on its own, as tests and scripts call it: `replay(['--data', dir], io)`. */
export const replay = (argv: string[], io: Io): Promise<number> => runCommands([register], ['replay', ...argv], io);
