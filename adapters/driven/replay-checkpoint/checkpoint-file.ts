import { statSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointLimitIssue, ReplayCheckpoint, type CheckpointKeeper, type LoadedCheckpoint } from '../../../projections/replay/checkpoint.ts';
import { writeFileAtomic } from '../files/index.ts';

/** The replay checkpoint lives in the data folder, next to the event store and the read models. */
export const CHECKPOINT_FILE = 'replay-checkpoint.json';

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
 * Takes what a checkpoint write must hold (the data folder's lock): the way to let go, or why it may not be held now
 * (another process holds the folder).
 */
export type CheckpointHold = () => (() => void) | string;

/** Where the checkpoint of a data folder is, read and written atomically (a crash leaves the old one or the new one). */
export class CheckpointFile implements CheckpointKeeper {
  readonly path: string;
  /** The file as `load` found it; undefined until then. */
  #loaded: string | undefined;
  constructor(dataDir: string) {
    this.path = join(dataDir, CHECKPOINT_FILE);
  }

  /** undefined when there is none; a problem (never a throw) when it is unreadable, so the caller verifies in full. */
  load(): LoadedCheckpoint {
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
    const beyond = checkpointLimitIssue(raw);
    if (beyond !== undefined) return { ok: false, problem: `${this.path}: ${beyond}` };
    const parsed = ReplayCheckpoint.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return { ok: false, problem: `${this.path}: ${issue.path.join('.') || '(root)'}: ${issue.message}` };
    }
    return { ok: true, checkpoint: parsed.data };
  }

  /** Writes the checkpoint as it is, holding nothing: for a folder no other process uses (the bench, tests); see saveHeld. */
  save(checkpoint: ReplayCheckpoint): void {
    this.#write(JSON.stringify(checkpoint));
  }

  /**
   * `save` while holding what `hold` takes, and only over the file this keeper's `load` found: why nothing was written,
   * or undefined. Two runs that each read the file and write it when done would otherwise overwrite each other's, the
   * one that started first last; and a file removed meanwhile (README, restoring events.db, step 3) would come back.
   * The file, serialized before the hold is taken, is compared and written under it, so no other run's write falls
   * between the two.
   */
  saveHeld(checkpoint: ReplayCheckpoint, hold: CheckpointHold): string | undefined {
    const text = JSON.stringify(checkpoint);
    const release = hold();
    if (typeof release === 'string') return release;
    try {
      if (this.#loaded !== undefined && versionOf(this.path) !== this.#loaded) {
        return `${this.path} was ${this.#loaded === 'absent' ? 'written' : 'replaced or removed'} by another process since this run read it; that one is kept`;
      }
      this.#write(text);
      this.#loaded = versionOf(this.path);
      return undefined;
    } finally {
      release();
    }
  }

  #write(text: string): void {
    // Private like every file of the data folder (it holds the entities' machine contexts), through an unguessable
    // temp name opened O_EXCL: a data folder given with an EventStoreDB store is not made private by the store, and a
    // link planted at a predictable name had the checkpoint written through it (found in review 24).
    writeFileAtomic(this.path, text, { mode: 0o600 });
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
