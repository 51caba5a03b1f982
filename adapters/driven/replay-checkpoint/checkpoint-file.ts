import { closeSync, constants, fchmodSync, linkSync, lstatSync, openSync, statSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointLimitIssue, ReplayCheckpoint, type CheckpointKeeper } from '../../../projections/replay/checkpoint.ts';
import { KeptBeside, type LoadedCheckpointFile, type SaveOptions, type UnreadAlteration } from '../../../projections/replay/kept-beside.ts';
import { writeFileAtomic } from '../files/index.ts';

/** The replay checkpoint lives in the data folder, next to the event store and the read models. */
export const CHECKPOINT_FILE = 'replay-checkpoint.json';

/** Where an unreadable checkpoint is moved before a new one takes its place: never written over (review 228). */
export const UNREADABLE_CHECKPOINT_FILE = `${CHECKPOINT_FILE}.unreadable`;

/**
 * Where a checkpoint of an earlier version is kept when the history behind it cannot be shown to be the one it verified
 * (verify-fleet.ts, review 376): its digest is the only evidence of what that was.
 */
export const EARLIER_CHECKPOINT_FILE = `${CHECKPOINT_FILE}.v1`;

/** The file's JSON: the checkpoint's fields, and what is kept beside it. */
const fileText = (checkpoint: ReplayCheckpoint, beside: KeptBeside = {}): string => JSON.stringify({ ...checkpoint, ...beside });

/** What an unreadable file's `altered` member says loosely: its position, when it is one, and nothing of its text. */
const unreadAlteration = (altered: unknown): UnreadAlteration => {
  const position = typeof altered === 'object' && altered !== null ? (altered as { position?: unknown }).position : undefined;
  return typeof position === 'string' && /^\d{1,30}$/.test(position) ? { position } : {};
};

/** A checkpoint of a million entities is a few hundred MiB; anything past this is not one of ours. */
const MAX_CHECKPOINT_BYTES = 1024 * 1024 * 1024;

/**
 * The checkpoint file as a run found it (none: `absent`): the file a later write of another run puts in its place is
 * another inode, or the same one with another size or change time.
 */
const versionOf = (path: string): string => {
  const stat = statSync(path, { bigint: true, throwIfNoEntry: false });
  return stat === undefined ? 'absent' : `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
};

/**
 * The OS's reason for a failed write, in words and code (`operation not permitted (EPERM)`), without the paths and
 * temp names of its message: the caller names the file (review 228: a raw `rename '.replay-checkpoint.json.…tmp'`).
 */
const osReason = (error: NodeJS.ErrnoException): string => {
  const words = /^[A-Z0-9_]+: ([^,]+)/.exec(error.message)?.[1];
  return words === undefined ? error.code! : `${words} (${error.code})`;
};

/**
 * A file moved aside made private as the checkpoint it was (machine contexts), whatever mode an older build or a copy
 * left it; through a descriptor opened O_NOFOLLOW, so that a link planted at the checkpoint's name (linked aside as the
 * link it is) never has its target's mode changed.
 */
const privateUnlessLink = (path: string): void => {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') return;
    throw error;
  }
  try {
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
};

/** The checkpoint could not be written (an immutable file, a read-only or full disk): why, naming the file. */
export class CheckpointNotWritten extends Error {}

/**
 * Takes what a checkpoint write must hold (the data folder's lock): the way to let go, or why it may not be held now
 * (another process holds the folder).
 */
export type CheckpointHold = () => (() => void) | string;

/** Where the checkpoint of a data folder is, read and written atomically (a crash leaves the old one or the new one). */
export class CheckpointFile implements CheckpointKeeper {
  readonly path: string;
  /** Where an unreadable one is moved before a new one is written. */
  readonly asidePath: string;
  /** Where an earlier version's is kept when a save asks (`keepEarlier`). */
  readonly earlierPath: string;
  /** The file as `load` found it; undefined until then. */
  #loaded: string | undefined;
  /** `load` found a file it could not read: kept, under asidePath, when one is written in its place. */
  #unreadable = false;
  constructor(dataDir: string) {
    this.path = join(dataDir, CHECKPOINT_FILE);
    this.asidePath = join(dataDir, UNREADABLE_CHECKPOINT_FILE);
    this.earlierPath = join(dataDir, EARLIER_CHECKPOINT_FILE);
  }

  /**
   * undefined when there is none; a problem (never a throw) when it is unreadable, so the caller verifies in full. An
   * unreadable file is moved aside by the next save, not written over: it may be the only trace of a history altered
   * behind it (its digest), and whoever looks at the folder must see it.
   */
  load(): LoadedCheckpointFile {
    const loaded = this.#read();
    this.#unreadable = loaded !== undefined && !loaded.ok;
    return loaded;
  }

  #read(): LoadedCheckpointFile {
    this.#loaded = versionOf(this.path);
    if (this.#loaded === 'absent') return undefined;
    // Removed since versionOf read it (another run, a restore): none, as the promise above says, not a throw.
    const size = statSync(this.path, { throwIfNoEntry: false })?.size;
    if (size === undefined) return undefined;
    if (size > MAX_CHECKPOINT_BYTES) return { ok: false, problem: `${this.path} is ${size} bytes, more than a checkpoint can be` };
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (error) {
      return { ok: false, problem: `${this.path} is not JSON (${(error as Error).message})` };
    }
    const isObject = typeof raw === 'object' && raw !== null && !Array.isArray(raw);
    // Whatever else is wrong with it, an alteration it records is reported, not set aside with the file.
    const unreadAltered = isObject && Object.hasOwn(raw as object, 'altered') ? { altered: unreadAlteration((raw as { altered: unknown }).altered) } : {};
    const beyond = checkpointLimitIssue(raw);
    if (beyond !== undefined) return { ok: false, problem: `${this.path}: ${beyond}`, ...unreadAltered };
    // What is kept beside the checkpoint is read apart from it: the checkpoint's schema is the replay's own.
    const { digestVersion, altered, ...fields } = isObject ? (raw as Record<string, unknown>) : {};
    const beside = KeptBeside.safeParse({ ...(digestVersion !== undefined ? { digestVersion } : {}), ...(altered !== undefined ? { altered } : {}) });
    const parsed = ReplayCheckpoint.safeParse(isObject ? fields : raw);
    const failed = !beside.success ? beside.error : !parsed.success ? parsed.error : undefined;
    if (failed !== undefined) {
      const issue = failed.issues[0]!;
      return { ok: false, problem: `${this.path}: ${issue.path.join('.') || '(root)'}: ${issue.message}`, ...unreadAltered };
    }
    return { ok: true, checkpoint: parsed.data!, ...beside.data! };
  }

  /**
   * Writes the checkpoint as it is, holding nothing: for a folder no other process uses (the bench, tests); see
   * saveHeld. What it moved aside, if anything; CheckpointNotWritten when it cannot write.
   */
  save(checkpoint: ReplayCheckpoint, beside?: KeptBeside, options: SaveOptions = {}): string | undefined {
    return this.#put(fileText(checkpoint, beside), options);
  }

  /**
   * `save` while holding what `hold` takes, and only over the file this keeper's `load` found: why nothing was written
   * (`unsaved`: another holder, another run's file, a write the OS refused), or what was said of the write (`said`: an
   * unreadable file moved aside). Two runs that each read the file and write it when done would otherwise overwrite each other's, the
   * one that started first last; and a file removed meanwhile (README, restoring events.db, step 3) would come back.
   * The file, serialized before the hold is taken, is compared and written under it, so no other run's write falls
   * between the two.
   */
  saveHeld(
    checkpoint: ReplayCheckpoint,
    hold: CheckpointHold,
    beside?: KeptBeside,
    options: SaveOptions = {},
  ): { readonly unsaved: string } | { readonly said?: string } {
    const text = fileText(checkpoint, beside);
    const release = hold();
    if (typeof release === 'string') return { unsaved: release };
    try {
      if (this.#loaded !== undefined && versionOf(this.path) !== this.#loaded) {
        return { unsaved: `${this.path} was ${this.#loaded === 'absent' ? 'written' : 'replaced or removed'} by another process since this run read it; that one is kept` };
      }
      const said = this.#put(text, options);
      this.#loaded = versionOf(this.path);
      return said === undefined ? {} : { said };
    } catch (error) {
      // Not written: the run's verdict stands, as beside a holder (review 228: it was lost to a raw EPERM, exit 1).
      if (error instanceof CheckpointNotWritten) return { unsaved: error.message };
      throw error;
    } finally {
      release();
    }
  }

  /** An unreadable file (or, `keepEarlier`, an earlier version's) moved aside (said so), then `text` written in its place. */
  #put(text: string, options: SaveOptions = {}): string | undefined {
    const aside = this.#unreadable
      ? this.#moveAside(this.asidePath, this.#movedAside, 'could not be read', 'that could not be read before')
      : options.keepEarlier === true
        ? this.#moveAside(this.earlierPath, this.#keptEarlier, 'was written by an earlier version', 'kept before')
        : undefined;
    try {
      this.#write(text);
    } catch (error) {
      // Still at `path`, unreplaced: its second name goes, or the next run would find it "kept before" (EEXIST).
      if (aside !== undefined) rmSync(this.#unreadable ? this.asidePath : this.earlierPath, { force: true });
      throw error;
    }
    this.#unreadable = false;
    return aside;
  }

  /**
   * The file kept under `to` (asidePath, earlierPath): linked there (never over one already kept: EEXIST), so that the
   * write that follows replaces only its name at `path`. A file that has gone meanwhile has nothing to keep. `why` it
   * is kept and what one kept before there is, for the refusals.
   */
  #moveAside(to: string, moved: () => string, why: string, before: string): string | undefined {
    try {
      linkSync(this.path, to);
      privateUnlessLink(to);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      // The same file already (a run stopped between the link and the write): kept, as this one would have it.
      if (code === 'EEXIST' && versionOf(to) === versionOf(this.path)) return moved();
      if (code === 'EEXIST') {
        throw new CheckpointNotWritten(`${this.path} ${why}, and ${to} holds one ${before}: neither is written over (look at them, then remove them)`);
      }
      if (code === undefined) throw error;
      throw new CheckpointNotWritten(`${this.path} ${why}, and cannot be moved to ${to}: ${osReason(error as NodeJS.ErrnoException)}`);
    }
    return moved();
  }

  #movedAside = (): string =>
    `${this.path} could not be read: moved to ${this.asidePath}, which is kept (look at it, then remove it); the new checkpoint is written in its place`;

  #keptEarlier = (): string => `${this.path} moved to ${this.earlierPath}, which is kept; the new checkpoint is written in its place`;

  #write(text: string): void {
    // Private like every file of the data folder (it holds the entities' machine contexts), through an unguessable
    // temp name opened O_EXCL: a data folder given with an EventStoreDB store is not made private by the store, and a
    // link planted at a predictable name had the checkpoint written through it (found in review 24).
    try {
      writeFileAtomic(this.path, text, { mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === undefined) throw error;
      throw new CheckpointNotWritten(`${this.path} cannot be written: ${osReason(error as NodeJS.ErrnoException)}`);
    }
  }

  /** earlierPath while a checkpoint of an earlier version is kept there (a save's `keepEarlier`); else undefined. */
  keptEarlier(): string | undefined {
    return lstatSync(this.earlierPath, { throwIfNoEntry: false }) === undefined ? undefined : this.earlierPath;
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
