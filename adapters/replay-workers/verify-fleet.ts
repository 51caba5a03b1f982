import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import type { KeptBeside, LoadedCheckpointFile, RecordedAlteration, SaveOptions, UnreadAlteration } from '../../projections/replay/kept-beside.ts';
import {
  checkpointMachinesChange, checkpointOf, UnusableCheckpoint, verifierFromCheckpoint, verifierSource, type CheckpointSource, type ReplayCheckpoint,
} from '../../projections/replay/checkpoint.ts';
import { verifyFrom } from '../../projections/replay/index.ts';
import { FleetVerifier, type FleetReplay } from '../../projections/replay/verifier.ts';
import { CHECKPOINT_DIGEST_VERSION, digestCovers, digestOfRecord, sha256RecordDigest } from './record-digest.ts';
import { recordAtPosition } from '../../projections/runtime/log-check.ts';
import type { PartitionSource } from './messages.ts';
import { replayInWorkers } from './pool.ts';

/**
 * Where a fleet verification keeps its checkpoint (projections/replay/checkpoint.ts CheckpointKeeper), with what is kept
 * beside it: what its digest covers, and an alteration found behind it (projections/replay/kept-beside.ts).
 */
export interface FleetCheckpointKeeper {
  /** Where it is, for the person who must remove it (an altered history keeps its old checkpoint). */
  readonly path: string;
  load(): LoadedCheckpointFile;
  /**
   * As CheckpointKeeper's: what the run must say it did besides, if anything; a throw costs only the checkpoint.
   * `keepEarlier`: the file it replaces is kept aside, not written over.
   */
  save(checkpoint: ReplayCheckpoint, beside?: KeptBeside, options?: SaveOptions): string | undefined | void;
  /**
   * Where a checkpoint of an earlier version kept aside by a save (`keepEarlier`) is, while it is there: named by every
   * run until it is removed (review 380 item 4: only the run that kept it said so).
   */
  keptEarlier?(): string | undefined;
}

export interface FleetVerificationOptions {
  /** Where the checkpoint is kept; without one every run verifies in full and nothing is saved. */
  readonly checkpoint?: FleetCheckpointKeeper;
  /** Verify the whole log from position 0 even when a checkpoint could continue (and compare it with the checkpoint). */
  readonly full?: boolean;
  /** Worker threads for a full verification (1: this thread only). */
  readonly workers?: number;
  /** The store's events file, for workers that read their partitions themselves (pool.ts `source`). */
  readonly source?: PartitionSource;
  readonly onProgress?: (done: number) => void;
  readonly now?: () => Date;
}

export interface FleetVerification {
  readonly replay: FleetReplay;
  /** `incremental`: only the records after the checkpoint were verified now, the rest comes from the checkpoint. */
  readonly mode: 'full' | 'incremental';
  /** Position the verification of this run started after (0 for a full one). */
  readonly from: bigint;
  /** Events verified by this run. */
  readonly verifiedNow: number;
  /** The history up to the checkpoint is not the one that was verified: an event was altered, removed or reordered. */
  readonly altered?: {
    readonly position: bigint;
    readonly reason: string;
    /** The event the checkpoint ended on is not the one stored there: another history (a restore, another log). */
    readonly anotherHistory?: true;
  };
  /** Why a checkpoint could not be used or was not saved. */
  readonly notes: readonly string[];
}

/** Whether the record the checkpoint ends on is still stored, unchanged: a cheap guard before continuing from it. */
const tipProblem = async (store: EventStore, checkpoint: ReplayCheckpoint): Promise<string | undefined> => {
  const position = BigInt(checkpoint.position);
  if (position === 0n) return undefined;
  const tip = await recordAtPosition(store, position);
  if (tip === undefined) return `the record at position ${position} it ends on is no longer stored`;
  if (checkpoint.lastRecord === undefined || digestOfRecord(tip) === checkpoint.lastRecord) return undefined;
  // Another event there (another id) is another history, most often events.db restored and grown since (review 228).
  return checkpoint.lastEventId !== undefined && tip.id !== checkpoint.lastEventId
    ? `the record at position ${position} it ends on is another event than the one it verified there (another history)`
    : `the record at position ${position} it ends on was altered`;
};

/**
 * The id of the event at `position`, read back once the run is done, when it is the record verified there (its
 * digest `recordDigest`): the checkpoint keeps it, so that another event there later is told from an altered one.
 * Read, rather than taken as the records pass, since workers hand this thread only their records' digests.
 */
const tipEventId = async (store: EventStore, position: bigint, recordDigest: string | undefined): Promise<string | undefined> => {
  if (position === 0n || recordDigest === undefined) return undefined;
  const tip = await recordAtPosition(store, position);
  return tip !== undefined && digestOfRecord(tip) === recordDigest ? tip.id : undefined;
};

/** An alteration a full verification found and recorded in the kept checkpoint, as a later run reports it. */
const recordedAlteration = (recorded: RecordedAlteration, path: string): NonNullable<FleetVerification['altered']> => ({
  position: BigInt(recorded.position),
  reason: `${recorded.reason} (found by the verification in full of ${recorded.foundAt} and recorded in ${path}, which is kept as it is until someone removes it)`,
  ...(recorded.anotherHistory === true ? { anotherHistory: true } : {}),
});

/**
 * The alteration a checkpoint file records that cannot be read (edited by hand, say): reported as the alteration, the
 * file kept as it is (review 376: refused by its schema, it was set aside with a note, and later runs said all was legal).
 */
const unreadAlteration = (unread: UnreadAlteration, problem: string, path: string): NonNullable<FleetVerification['altered']> => ({
  position: unread.position === undefined ? 0n : BigInt(unread.position),
  reason:
    `${path} records an alteration of the history behind it${unread.position === undefined ? '' : ` at or before position ${unread.position}`}, ` +
    `found by a verification in full, but cannot be read (${problem}); it is kept as it is until someone removes it`,
});

/**
 * The digest a checkpoint of an earlier version kept on a store that is not gapless (no digestVersion) chained: every
 * record of the log, other applications' too. Chained again over the full pass's records (`onRecord`, each of them, in
 * position order) and, past the pass, up to its position (`outcome`): `same` when it is the digest recorded there,
 * `differs` when not, or when no record is stored at its position any more.
 */
const earlierVersionDigest = (checkpoint: ReplayCheckpoint) => {
  const at = BigInt(checkpoint.position);
  const digest = sha256RecordDigest();
  let outcome: 'same' | 'differs' | undefined = at === 0n ? 'same' : undefined;
  let last = 0n;
  const onRecord = (record: RecordedEvent): void => {
    last = record.position;
    if (outcome !== undefined) return;
    if (record.position > at) {
      outcome = 'differs';
      return;
    }
    digest.update(record);
    if (record.position === at) outcome = digest.value() === checkpoint.digest ? 'same' : 'differs';
  };
  return {
    onRecord,
    /** After the pass: its records ended before the checkpoint's position (Credence's newest), the others read to it. */
    outcome: async (store: EventStore): Promise<'same' | 'differs'> => {
      if (outcome === undefined) {
        for await (const record of store.readAll({ afterPosition: last })) {
          onRecord(record);
          if (outcome !== undefined) break;
        }
      }
      return outcome ?? 'differs';
    },
  };
};

/** A thrown error's message on one line, bounded: for a note. */
const oneLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').slice(0, 300);

/**
 * The fleet verdict, incremental when it can be: from a checkpoint whose tip is intact only the new records are
 * verified; otherwise (or with `full`) every record from position 0, and the digest of the history up to the
 * checkpoint is compared with the one it recorded, so an event altered behind the checkpoint is caught.
 */
export const verifyFleet = async (store: EventStore, options: FleetVerificationOptions = {}): Promise<FleetVerification> => {
  const notes: string[] = [];
  const loaded = options.checkpoint?.load();
  const unread = loaded !== undefined && !loaded.ok && loaded.altered !== undefined ? unreadAlteration(loaded.altered, loaded.problem, options.checkpoint!.path) : undefined;
  if (loaded !== undefined && !loaded.ok && unread === undefined) notes.push(`checkpoint ignored: ${loaded.problem}`);
  const kept = loaded?.ok === true ? loaded : undefined;
  // On a store that is not gapless, the digest of a checkpoint of an earlier version covers other applications'
  // records too, which leave $all when scavenged: it is not gone on from, and the log is verified in full once
  // (review 371: compared as this version's, it called a history nobody altered "altered"). On the embedded store it is
  // the same. Its own digest is chained too and compared (review 376: not compared, it was saved over, and with it the
  // only evidence of an event altered behind it): the same, it is replaced; otherwise it is kept aside.
  const comparable = kept !== undefined && (store.gapless === true || kept.digestVersion === CHECKPOINT_DIGEST_VERSION);
  const earlier = kept !== undefined && !comparable ? earlierVersionDigest(kept.checkpoint) : undefined;
  if (earlier !== undefined) {
    notes.push("checkpoint not continued: an earlier version wrote it, whose digest covers other applications' records of the store too; verified in full once");
  }
  // Unset when an entity read from its line proves unusable on going on from it: then as a file refused when read.
  let previous = comparable ? kept.checkpoint : undefined;
  // An alteration a verification in full found behind it: reported by every run until the file is removed (review 371).
  const recorded = comparable ? kept.altered : undefined;
  const now = options.now ?? (() => new Date());
  const keeper = options.checkpoint;
  const covers = digestCovers(store);
  // On a store shared with other applications, the checkpoint ends on Credence's newest record, which is never
  // removed, as read models' checkpoints do: another application's record there leaves $all once scavenged, and the
  // next run could neither check the tip nor read on from it (review 371). Records after it wait for the next run.
  const ownHead = store.gapless !== true && store.ownHeadPosition !== undefined ? { at: await store.ownHeadPosition() } : undefined;
  const until = ownHead?.at === undefined ? {} : { until: ownHead.at };
  // The verdict is complete when this runs: a checkpoint that cannot be written costs the next run its head start,
  // never this run's verdict (review 228: a write error was taken for a failed continuation, and the second save threw).
  const put = (checkpoint: ReplayCheckpoint, beside: KeptBeside, saveOptions?: SaveOptions): void => {
    try {
      const said = saveOptions === undefined ? keeper!.save(checkpoint, beside) : keeper!.save(checkpoint, beside, saveOptions);
      if (typeof said === 'string') notes.push(said);
    } catch (error) {
      notes.push(`checkpoint not saved: ${oneLine(error)}`);
    }
  };
  const save = async (source: CheckpointSource, digest: ReturnType<typeof sha256RecordDigest>, saveOptions?: SaveOptions): Promise<void> => {
    if (keeper === undefined) return;
    if (ownHead !== undefined && ownHead.at === undefined) {
      notes.push('checkpoint not saved: the store holds no record of Credence\'s for it to end on');
      return;
    }
    const lastRecord = digest.last() ?? previous?.lastRecord;
    const lastEventId = await tipEventId(store, source.position, lastRecord);
    put(checkpointOf(source, digest.value(), lastRecord, now().toISOString(), lastEventId), { digestVersion: CHECKPOINT_DIGEST_VERSION }, saveOptions);
  };

  if (previous !== undefined && recorded !== undefined) {
    notes.push(`checkpoint not continued: it records an alteration of the history behind it found at ${recorded.foundAt}; verified in full`);
  } else if (previous !== undefined && options.full !== true) {
    // Snapshots of other machines are not gone on from (review 119): a context an older build kept without a field a
    // guard now reads is judged otherwise than a full run judges it. Its history digest is still compared below.
    const problem = checkpointMachinesChange(previous) ?? (await tipProblem(store, previous));
    if (problem === undefined) {
      let verifier: FleetVerifier | undefined;
      let before = 0;
      const from = BigInt(previous.position);
      const digest = sha256RecordDigest(previous.digest);
      let continued = false;
      try {
        verifier = verifierFromCheckpoint(previous);
        before = verifier.tally.events;
        await verifyFrom(store, verifier, {
          onRecord: (r) => covers(r) && digest.update(r), ...until, ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        });
        continued = true;
      } catch (error) {
        if (error instanceof UnusableCheckpoint) {
          // An entity whose line is checked only when it is first needed (checkpoint.ts checkpointOfLines) is not what a
          // checkpoint holds: the file is one that could not be read, as if refused when loaded (moved aside by the save).
          notes.push(`checkpoint ignored: ${error.message}`);
          previous = undefined;
        } else {
          // A context the file's schema let through but a guard cannot read (the file sits in the data folder, and may
          // have been edited): the checkpoint is not trusted into a crash, and the log is verified in full (found in review).
          notes.push(`checkpoint not continued: going on from it failed (${oneLine(error)}); verified in full`);
        }
      }
      if (continued && verifier !== undefined) {
        await save(verifierSource(verifier), digest);
        noteKeptEarlier(keeper, notes);
        return { replay: verifier.verdict(), mode: 'incremental', from, verifiedNow: verifier.tally.events - before, notes };
      }
    } else notes.push(`checkpoint not continued: ${problem}; verified in full`);
  }

  // Full: every record, its digest compared with the checkpoint's at the checkpoint's position.
  const digest = sha256RecordDigest();
  const checkAt = previous === undefined ? undefined : BigInt(previous.position);
  let altered: FleetVerification['altered'];
  let compared = checkAt === undefined || checkAt === 0n;
  const onRecordDigest = (position: bigint, recordDigest: string) => {
    if (!compared && position > checkAt!) {
      compared = true;
      altered = { position: checkAt!, reason: `no record is stored at position ${checkAt}, where the verified history ended` };
    }
    digest.add(recordDigest);
    if (!compared && position === checkAt) {
      compared = true;
      if (digest.value() !== previous!.digest) {
        altered = {
          position: checkAt,
          reason: `the stored history up to position ${checkAt} is not the one verified at ${previous!.writtenAt}: an event at or before it was altered, removed or inserted`,
        };
      }
    }
  };
  // Another application's record is passed over (a store that is not gapless): its leaving is no alteration. An
  // earlier version's digest chains it.
  const onRecord = (r: RecordedEvent) => {
    earlier?.onRecord(r);
    if (covers(r)) onRecordDigest(r.position, digestOfRecord(r));
  };
  const workers = options.workers ?? 1;
  const progress = options.onProgress ? { onProgress: options.onProgress } : {};
  const result =
    workers > 1
      ? await replayInWorkers(store, {
          workers, keepState: options.checkpoint !== undefined, ...progress,
          // Workers reading their partitions digest their records themselves: this thread does not read the log again.
          // Only over a gapless store's file (the embedded one), whose every record the digest covers.
          ...(options.source && store.gapless === true && ownHead === undefined ? { source: options.source, onRecordDigest } : { onRecord, ...until }),
        })
      : await verifyFrom(store, new FleetVerifier(), { onRecord, ...until, ...progress }).then((v) => ({ replay: v.verdict(), source: verifierSource(v) }));
  // On a store that is not gapless the pass ends on Credence's newest record: other applications' may go on past it.
  const ended = store.gapless === true ? 'the store ends' : "Credence's records end";
  if (!compared) altered = { position: checkAt!, reason: `${ended} before position ${checkAt}, where the verified history ended` };
  else if (altered !== undefined) altered = await anotherHistory(store, previous!, altered);
  // An alteration recorded by an earlier run stands when this one finds none (the history written back as it was,
  // say): the file is the evidence, and whoever removes it decides.
  if (altered === undefined && recorded !== undefined) altered = recordedAlteration(recorded, keeper!.path);
  if (altered === undefined && unread !== undefined) altered = unread;
  // An altered history keeps its old checkpoint, so every later verification reports it until it is dealt with: the
  // alteration is recorded in it (review 371: the next plain run checked only its tip, said all was legal and saved
  // over it), once, with what the file kept beside it.
  let keptNow = false;
  if (altered === undefined && result.source !== undefined && earlier !== undefined && (await earlier.outcome(store)) === 'differs') {
    // An event altered behind it and another application's record scavenged since are the same difference to its digest.
    const { position, writtenAt } = kept!.checkpoint;
    notes.push(
      `the checkpoint an earlier version wrote at ${writtenAt} is not the history stored up to position ${position}: an event of Credence's ` +
        "altered, or another application's record scavenged since, which its digest covered too; it is kept, not written over. " +
        `Once the cluster's scavenges since ${writtenAt} are known, remove it if they explain it; if none ` +
        "removed a record up to that position, an event of Credence's was altered: check the entities' evidence (credence verify)",
    );
    await save(result.source, digest, { keepEarlier: true });
    keptNow = true;
  } else if (altered === undefined && result.source !== undefined) await save(result.source, digest);
  else if (keeper !== undefined && previous !== undefined && altered !== undefined) {
    if (recorded === undefined) {
      const { position, reason, anotherHistory: another } = altered;
      const alteration: RecordedAlteration = { position: position.toString(10), reason, ...(another === true ? { anotherHistory: true } : {}), foundAt: now().toISOString() };
      put(previous, { ...(kept!.digestVersion !== undefined ? { digestVersion: kept!.digestVersion } : {}), altered: alteration });
    }
    notes.push(`checkpoint of ${previous.writtenAt} kept: remove ${keeper.path} once the alteration is dealt with`);
  }
  // The run that kept it said so above, with why.
  if (!keptNow) noteKeptEarlier(keeper, notes);
  return { replay: result.replay, mode: 'full', from: 0n, verifiedNow: result.replay.events, ...(altered ? { altered } : {}), notes };
};

/** The checkpoint of an earlier version a run kept aside, while it is there: named, and what to do with it. */
const noteKeptEarlier = (keeper: FleetCheckpointKeeper | undefined, notes: string[]): void => {
  const path = keeper?.keptEarlier?.();
  if (path === undefined) return;
  notes.push(
    `${path} is kept: a checkpoint an earlier version wrote, not the history stored up to its position (an event of Credence's altered, ` +
      "or another application's record scavenged since, which its digest covered too). Once the cluster's scavenges since it was written " +
      "are known, remove it if they explain it; if none removed a record up to its position, an event of Credence's was altered: check the entities' evidence (credence verify)",
  );
};

/**
 * `altered`, or, when the event stored where `checkpoint` ends is not the one it verified there (another id), another
 * history: events.db restored from a backup and grown since, or another store's log (review 228: it read as an event
 * altered in place). A checkpoint of an earlier version, which kept no id, keeps the earlier wording.
 */
const anotherHistory = async (
  store: EventStore,
  checkpoint: ReplayCheckpoint,
  altered: NonNullable<FleetVerification['altered']>,
): Promise<NonNullable<FleetVerification['altered']>> => {
  if (checkpoint.lastEventId === undefined) return altered;
  const stored = await recordAtPosition(store, altered.position);
  if (stored === undefined || stored.id === checkpoint.lastEventId) return altered;
  return {
    position: altered.position,
    reason:
      `the stored history up to position ${altered.position} is another one than the one verified at ${checkpoint.writtenAt}: ` +
      `the event there is not the one it ended on (${store.gapless === true ? 'events.db' : 'the store'} restored from a backup, or another store's log)`,
    anotherHistory: true,
  };
};
