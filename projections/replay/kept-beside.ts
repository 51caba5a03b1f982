import { z } from 'zod';
import type { LoadedCheckpoint, ReplayCheckpoint } from './checkpoint.ts';

/*
 * What a replay checkpoint's file keeps beside the checkpoint itself, and how a keeper of it reads and writes: the
 * verifier (adapters/replay-workers/verify-fleet.ts) reads these through the keeper, which the composition root gives
 * it (adapters/driven/replay-checkpoint/checkpoint-file.ts), as it reads CheckpointKeeper (checkpoint.ts).
 */

/**
 * An alteration a verification in full found behind the checkpoint, kept in its file beside the checkpoint of the
 * verified history (review 371): every later run reports it, and none saves over the file, until someone removes it.
 */
export const RecordedAlteration = z.strictObject({
  position: z.string().regex(/^\d{1,30}$/),
  reason: z.string().max(4_000),
  anotherHistory: z.literal(true).optional(),
  foundAt: z.iso.datetime(),
});
export type RecordedAlteration = z.infer<typeof RecordedAlteration>;

/**
 * What the file keeps beside the checkpoint itself: what its digest covers (`digestVersion`, record-digest.ts; absent
 * from a file of an earlier version) and an alteration found behind it.
 */
export const KeptBeside = z.strictObject({ digestVersion: z.number().int().positive().max(1_000).optional(), altered: RecordedAlteration.optional() });
export type KeptBeside = z.infer<typeof KeptBeside>;

/**
 * What a file that cannot be read says of an alteration it records, read loosely (review 376: a recorded alteration
 * made invalid by hand had the file set aside with a note, and the alteration said no more): its position when that
 * is one.
 */
export interface UnreadAlteration {
  readonly position?: string;
}

/**
 * A checkpoint as read back from its file, with what the file keeps beside it; one that cannot be read, with the
 * alteration it records (`altered`), if it holds one.
 */
export type LoadedCheckpointFile =
  | ({ ok: true; checkpoint: ReplayCheckpoint } & KeptBeside)
  | (Extract<LoadedCheckpoint, { ok: false }> & { altered?: UnreadAlteration })
  | undefined;

/** How a save treats the file it replaces: `keepEarlier`, kept under earlierPath (a checkpoint of an earlier version). */
export interface SaveOptions {
  readonly keepEarlier?: boolean;
}
