/**
 * A copy of the latest checkpoint the log key signed, kept outside the log file (review 98): the log file alone cannot
 * say what the key signed before it was altered. Someone who can write the data folder but not use the key rewrote
 * leaves and deleted the checkpoints above them while no process held the folder, and the next start signed the
 * altered tree with the genuine key. Held to the copy, a start refuses a log that does not extend it (SER-003).
 */
export interface CheckpointWitness {
  /** Where the copy is, for messages (a file path). */
  readonly where: string;
  /** The signed note kept, or undefined when none was kept yet. Throws when the copy cannot be trusted or read. */
  read(): string | undefined;
  /** Replaces the copy with `note`, durably once it returns. */
  keep(note: string): void;
}
