import { closeSync, constants, fchmodSync, fstatSync, linkSync, lstatSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkpointLimitIssue, checkpointOfLines, entityHeadOfLine, entityLinesOf, ReplayCheckpoint, ReplayCheckpointOfLines, type CheckpointKeeper,
} from '../../../projections/replay/checkpoint.ts';
import { KeptBeside, type LoadedCheckpointFile, type SaveOptions, type UnreadAlteration } from '../../../projections/replay/kept-beside.ts';
import { writeFileAtomicFrom } from '../files/index.ts';

/** The replay checkpoint lives in the data folder, next to the event store and the read models. */
export const CHECKPOINT_FILE = 'replay-checkpoint.json';

/** Where an unreadable checkpoint is moved before a new one takes its place: never written over (review 228). */
export const UNREADABLE_CHECKPOINT_FILE = `${CHECKPOINT_FILE}.unreadable`;

/**
 * Where a checkpoint of an earlier version is kept when the history behind it cannot be shown to be the one it verified
 * (verify-fleet.ts, review 376): its digest is the only evidence of what that was.
 */
export const EARLIER_CHECKPOINT_FILE = `${CHECKPOINT_FILE}.v1`;

/**
 * The checkpoint's arrays that grow with the log, in the order their lines follow the first: each element is a line of
 * its own, never one string of them all (V8's longest string is 536,870,888 characters, about 3.2 million events of
 * the bench's lifecycle mix written as one JSON text).
 */
const LINED = ['findings', 'entities', 'claims', 'revisions', 'commandIds'] as const satisfies readonly (keyof ReplayCheckpoint)[];
type Lined = (typeof LINED)[number];

/**
 * The file, a line at a time: first the checkpoint's fields and what is kept beside it (digestVersion, altered), its
 * LINED arrays replaced by how many lines of each follow (`lines`), then one JSON line per element, each ended by a
 * newline. A file without `lines` on its first line is one of the earlier form, a single JSON text (still read).
 */
function* fileLines(checkpoint: ReplayCheckpoint, beside: KeptBeside = {}): Generator<string> {
  // The fields but the lined ones, read one by one: `entities` may be made only when read (checkpoint.ts entityLinesOf).
  const head: Record<string, unknown> = {};
  for (const key of Object.keys(checkpoint)) if (!(LINED as readonly string[]).includes(key)) head[key] = checkpoint[key as keyof ReplayCheckpoint];
  Object.assign(head, beside);
  const entities = entityLinesOf(checkpoint);
  const lines: Partial<Record<Lined, number>> = {};
  for (const key of LINED) lines[key] = key === 'entities' ? entities.count : checkpoint[key].length;
  yield `${JSON.stringify({ ...head, lines })}\n`;
  for (const key of LINED) {
    // An entity read from a line and unchanged since is written back as that line.
    if (key === 'entities') for (const line of entities.lines) yield `${line}\n`;
    else for (const element of checkpoint[key]) yield `${JSON.stringify(element)}\n`;
  }
}

/** Bytes read from the file at a time. */
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * The longest line read: a command-id chunk is 1.4 million characters, an entity's tuple a few KiB (its context keeps
 * MESSAGE_JSON_LIMITS); a longer line is not one of ours, and is refused before it is held whole.
 */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** The lines of a file, read READ_CHUNK_BYTES at a time, each without its newline; why it cannot be read as lines. */
class LineReader {
  readonly #fd: number;
  readonly #chunk = Buffer.alloc(READ_CHUNK_BYTES);
  #start = 0;
  #end = 0;
  #eof = false;
  constructor(fd: number) {
    this.#fd = fd;
  }

  /**
   * The next line; `end` at the end of the file; `unended` for bytes after the last newline (a line cut short);
   * `long` for a line past MAX_LINE_BYTES (not read further).
   */
  next(): string | { readonly end: true } | { readonly unended: true } | { readonly long: true } {
    const pieces: Buffer[] = [];
    let held = 0;
    for (;;) {
      if (this.#start === this.#end) {
        if (this.#eof) return held === 0 ? { end: true } : { unended: true };
        this.#start = 0;
        this.#end = readSync(this.#fd, this.#chunk, 0, READ_CHUNK_BYTES, null);
        if (this.#end === 0) {
          this.#eof = true;
          continue;
        }
      }
      const newline = this.#chunk.indexOf(0x0a, this.#start);
      const stop = newline === -1 || newline >= this.#end ? this.#end : newline;
      held += stop - this.#start;
      if (held > MAX_LINE_BYTES) return { long: true };
      // A line whole in the chunk is decoded from it as it is, never copied first (most lines of a checkpoint).
      if (pieces.length === 0 && stop !== this.#end) {
        const line = this.#chunk.toString('utf8', this.#start, stop);
        this.#start = stop + 1;
        return line;
      }
      // A copy: the chunk is read over by the next call.
      pieces.push(Buffer.from(this.#chunk.subarray(this.#start, stop)));
      if (stop === this.#end) {
        this.#start = this.#end;
        continue;
      }
      this.#start = stop + 1;
      return (pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, held)).toString('utf8');
    }
  }
}

/**
 * A file of `size` bytes of the line form as the object its first line and the lines after it make; why not; or
 * `single` (the earlier form).
 */
const readLined = (
  fd: number,
  size: number,
  entityHeads = false,
): { readonly raw: unknown; readonly entityLines?: string[] } | { readonly problem: string; readonly head?: unknown } | 'single' => {
  const reader = new LineReader(fd);
  const first = reader.next();
  if (typeof first !== 'string') return 'single';
  let head: unknown;
  try {
    head = JSON.parse(first);
  } catch {
    return 'single';
  }
  if (typeof head !== 'object' || head === null || Array.isArray(head)) return 'single';
  if (!Object.hasOwn(head, 'lines')) {
    // The earlier form is one text: a first line that is a whole object with more after it is a line file whose count
    // was damaged, and what its first line records (an alteration) is still reported (review 454).
    const after = reader.next();
    return typeof after !== 'string' && 'end' in after ? 'single' : { problem: 'its first line counts no lines (`lines`), yet lines follow it', head };
  }
  const { lines, ...fields } = head as Record<string, unknown>;
  const known = new Set<string>(LINED);
  if (typeof lines !== 'object' || lines === null || Array.isArray(lines)) return { problem: 'its first line\'s `lines` is not an object of line counts', head };
  for (const [key, count] of Object.entries(lines)) {
    if (!known.has(key)) return { problem: `its first line counts lines of ${JSON.stringify(key).slice(0, 60)}, which is no array it writes a line at a time`, head };
    if (!Number.isSafeInteger(count) || (count as number) < 0) return { problem: `its first line's count of ${key} lines is not a count`, head };
    if (Object.hasOwn(fields, key)) return { problem: `its first line holds ${key} and counts lines of it`, head };
  }
  // Every line is at least 2 bytes (a value and its newline): counts the file cannot hold are refused before a line is
  // read, never read on, each line held, until the heap runs out (review 454 F1).
  const counted = Object.values(lines as Record<string, number>).reduce((sum, count) => sum + count, 0);
  if (counted * 2 > size) return { problem: `its first line counts ${counted} lines, more than its ${size} bytes can hold (each line is at least 2 bytes)`, head };
  let at = 1;
  let entityLines: string[] | undefined;
  for (const key of LINED) {
    if (!Object.hasOwn(lines, key)) continue;
    const count = (lines as Record<string, number>)[key]!;
    const elements: unknown[] = [];
    // `entityHeads`: an entity's line read only as far as its head (checkpoint.ts entityHeadOfLine), and kept.
    const heads = entityHeads && key === 'entities';
    if (heads) entityLines = [];
    for (let i = 0; i < count; i++) {
      at++;
      const line = reader.next();
      if (typeof line !== 'string') {
        const why = 'end' in line ? 'the file ends' : 'unended' in line ? 'its last line is cut short' : `the line is longer than ${MAX_LINE_BYTES} bytes`;
        return { problem: `line ${at} should be ${key} ${i + 1} of ${count}, but ${why}`, head };
      }
      try {
        elements.push(heads ? entityHeadOfLine(line) : JSON.parse(line));
        if (heads) entityLines!.push(line);
      } catch (error) {
        return { problem: `line ${at} (${key} ${i + 1} of ${count}) is not JSON (${(error as Error).message})`, head };
      }
    }
    fields[key] = elements;
  }
  const after = reader.next();
  if (typeof after === 'string' || !('end' in after)) return { problem: `it goes on after the ${at} lines its first line counts`, head };
  return entityLines === undefined ? { raw: fields } : { raw: fields, entityLines };
};

/**
 * The JSON a checkpoint file holds, as one value, whichever form it is written in (the lines or one earlier JSON text),
 * without the checks a load makes: for a test or a person that reads or edits the file (written back as one JSON
 * text, it is read as the earlier form). Throws when it cannot be read as either.
 */
export const readCheckpointFileJson = (path: string): unknown => {
  const fd = openSync(path, 'r');
  let lined: ReturnType<typeof readLined>;
  try {
    lined = readLined(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
  if (lined === 'single') return JSON.parse(readFileSync(path, 'utf8'));
  if ('problem' in lined) throw new Error(`${path}: ${lined.problem}`);
  return lined.raw;
};

/** What an unreadable file's `altered` member says loosely: its position, when it is one, and nothing of its text. */
const unreadAlteration = (altered: unknown): UnreadAlteration => {
  const position = typeof altered === 'object' && altered !== null ? (altered as { position?: unknown }).position : undefined;
  return typeof position === 'string' && /^\d{1,30}$/.test(position) ? { position } : {};
};

/**
 * The largest file read. A checkpoint holds about 164 bytes per event of the bench's lifecycle mix (333 per entity,
 * 21 per command id): 64 GiB is some 400 million events, past what one process's heap holds as the verifier's state
 * (the limit a fleet meets first: the file is read a line at a time, never whole); anything larger is not one of ours.
 */
const MAX_CHECKPOINT_BYTES = 64 * 1024 * 1024 * 1024;

/** The largest file of the earlier single-JSON form read (as one string: it can be no longer than V8's longest). */
const MAX_SINGLE_TEXT_BYTES = 1024 * 1024 * 1024;

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
    let entityLines: string[] | undefined;
    let lined: ReturnType<typeof readLined>;
    let fd: number;
    try {
      // Not blocking: a named pipe put at its name would hold the open (and the replay) for ever.
      fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (error) {
      // Removed since (as above): none. Any other reason it cannot be opened is the file's problem, not a throw.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return { ok: false, problem: `${this.path} cannot be read (${(error as Error).message})` };
    }
    try {
      // A device or a pipe at its name has no size to bound the read by (review 454: a link to /dev/zero read until the
      // process ran out of memory).
      if (!fstatSync(fd).isFile()) return { ok: false, problem: `${this.path} is not a regular file` };
      lined = readLined(fd, fstatSync(fd).size, true);
    } catch (error) {
      return { ok: false, problem: `${this.path} cannot be read (${(error as Error).message})` };
    } finally {
      closeSync(fd);
    }
    if (lined === 'single') {
      if (size > MAX_SINGLE_TEXT_BYTES) return { ok: false, problem: `${this.path} is ${size} bytes, more than a checkpoint in one line can be` };
      try {
        raw = JSON.parse(readFileSync(this.path, 'utf8'));
      } catch (error) {
        return { ok: false, problem: `${this.path} is not JSON (${(error as Error).message})` };
      }
    } else if ('problem' in lined) {
      const { head } = lined;
      const headAltered = typeof head === 'object' && head !== null && Object.hasOwn(head, 'altered') ? { altered: unreadAlteration((head as { altered: unknown }).altered) } : {};
      return { ok: false, problem: `${this.path}: ${lined.problem}`, ...headAltered };
    } else {
      ({ raw, entityLines } = lined);
    }
    const isObject = typeof raw === 'object' && raw !== null && !Array.isArray(raw);
    // Whatever else is wrong with it, an alteration it records is reported, not set aside with the file.
    const unreadAltered = isObject && Object.hasOwn(raw as object, 'altered') ? { altered: unreadAlteration((raw as { altered: unknown }).altered) } : {};
    const beyond = checkpointLimitIssue(raw);
    if (beyond !== undefined) return { ok: false, problem: `${this.path}: ${beyond}`, ...unreadAltered };
    // What is kept beside the checkpoint is read apart from it: the checkpoint's schema is the replay's own.
    const { digestVersion, altered, ...fields } = isObject ? (raw as Record<string, unknown>) : {};
    const beside = KeptBeside.safeParse({ ...(digestVersion !== undefined ? { digestVersion } : {}), ...(altered !== undefined ? { altered } : {}) });
    // Read from lines, each entity's rest is checked when it is first needed; one that fails then makes the file one
    // that could not be read (moved aside by the next save), and the run verifies in full (checkpointOfLines).
    const parsed = entityLines === undefined ? ReplayCheckpoint.safeParse(isObject ? fields : raw) : ReplayCheckpointOfLines.safeParse(fields);
    const failed = !beside.success ? beside.error : !parsed.success ? parsed.error : undefined;
    if (failed !== undefined) {
      const issue = failed.issues[0]!;
      return { ok: false, problem: `${this.path}: ${issue.path.join('.') || '(root)'}: ${issue.message}`, ...unreadAltered };
    }
    const checkpoint =
      entityLines === undefined
        ? (parsed.data as ReplayCheckpoint)
        : checkpointOfLines(parsed.data as ReplayCheckpointOfLines, entityLines, this.path, () => void (this.#unreadable = true));
    return { ok: true, checkpoint, ...beside.data! };
  }

  /**
   * Writes the checkpoint as it is, holding nothing: for a folder no other process uses (the bench, tests); see
   * saveHeld. What it moved aside, if anything; CheckpointNotWritten when it cannot write.
   */
  save(checkpoint: ReplayCheckpoint, beside?: KeptBeside, options: SaveOptions = {}): string | undefined {
    return this.#put(fileLines(checkpoint, beside), options);
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
    const text = [...fileLines(checkpoint, beside)];
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
  #put(text: Iterable<string>, options: SaveOptions = {}): string | undefined {
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

  #write(text: Iterable<string>): void {
    // Private like every file of the data folder (it holds the entities' machine contexts), through an unguessable
    // temp name opened O_EXCL: a data folder given with an EventStoreDB store is not made private by the store, and a
    // link planted at a predictable name had the checkpoint written through it (found in review 24).
    try {
      writeFileAtomicFrom(this.path, text, { mode: 0o600 });
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
