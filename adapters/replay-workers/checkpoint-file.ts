import { existsSync, renameSync, statSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointLimitIssue, ReplayCheckpoint } from '../../projections/replay/checkpoint.ts';

/** The replay checkpoint lives in the data folder, next to the event store and the read models. */
export const CHECKPOINT_FILE = 'replay-checkpoint.json';

/** A checkpoint of a million entities is a few hundred MiB; anything past this is not one of ours. */
const MAX_CHECKPOINT_BYTES = 1024 * 1024 * 1024;

export type LoadedCheckpoint = { ok: true; checkpoint: ReplayCheckpoint } | { ok: false; problem: string } | undefined;

/** Where the checkpoint of a data folder is, read and written atomically (a crash leaves the old one or the new one). */
export class CheckpointFile {
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
    const temporary = `${this.path}.${process.pid}.tmp`;
    // Private like every file of the data folder: it holds the entities' machine contexts.
    writeFileSync(temporary, JSON.stringify(checkpoint), { mode: 0o600 });
    renameSync(temporary, this.path);
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
