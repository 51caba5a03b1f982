import { existsSync, statSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointLimitIssue, ReplayCheckpoint, type CheckpointKeeper, type LoadedCheckpoint } from '../../../projections/replay/checkpoint.ts';
import { writeFileAtomic } from '../files/index.ts';

/** The replay checkpoint lives in the data folder, next to the event store and the read models. */
export const CHECKPOINT_FILE = 'replay-checkpoint.json';

/** A checkpoint of a million entities is a few hundred MiB; anything past this is not one of ours. */
const MAX_CHECKPOINT_BYTES = 1024 * 1024 * 1024;

/** Where the checkpoint of a data folder is, read and written atomically (a crash leaves the old one or the new one). */
export class CheckpointFile implements CheckpointKeeper {
  readonly path: string;
  constructor(dataDir: string) {
    this.path = join(dataDir, CHECKPOINT_FILE);
  }

  /** undefined when there is none; a problem (never a throw) when it is unreadable, so the caller verifies in full. */
  load(): LoadedCheckpoint {
    if (!existsSync(this.path)) return undefined;
    const size = statSync(this.path).size;
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

  save(checkpoint: ReplayCheckpoint): void {
    // Private like every file of the data folder (it holds the entities' machine contexts), through an unguessable
    // temp name opened O_EXCL: a data folder given with an EventStoreDB store is not made private by the store, and a
    // link planted at a predictable name had the checkpoint written through it (found in review 24).
    writeFileAtomic(this.path, JSON.stringify(checkpoint), { mode: 0o600 });
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
