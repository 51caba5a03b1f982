import type { Io } from './io.ts';
import { printable } from './printable.ts';

/** An Io whose stdout can say whether a line reached the system: the CLI's (bin/cli.ts). */
export interface DeliveringIo extends Io {
  /** Writes `line` and resolves once the system has all of it; rejects where it did not (a full disk, a reader gone). */
  deliver(line: string): Promise<void>;
}

const delivers = (io: Io): io is DeliveringIo => typeof (io as Partial<DeliveringIo>).deliver === 'function';

/** How to undo what a printed value stands for when nobody received it, and what to say. Never the value itself. */
export interface OneTimeValue {
  /** Undoes it (revokes the token); throws where it could not. */
  readonly undo: () => Promise<void>;
  /** Said once undone. */
  readonly undone: string;
  /** Said when undoing failed (`why`): what the operator must undo, and how. */
  readonly notUndone: (why: string) => string;
}

/**
 * Prints `line`, the only copy of what it holds (a token just issued: nobody can be shown it again). Where it cannot be
 * written whole, nobody holds it, and what it stands for is undone at once and said; where undoing
 * fails too, the operator is told what to undo and how. The write's failure is thrown either way (exit 1, said in one
 * line by the CLI). `line` itself is never said.
 */
export const printOneTimeValue = async (io: Io, line: string, value: OneTimeValue): Promise<void> => {
  try {
    if (delivers(io)) await io.deliver(line);
    else io.out(line);
  } catch (error) {
    try {
      await value.undo();
      io.err(printable(value.undone));
    } catch (undoError) {
      io.err(printable(value.notUndone(undoError instanceof Error ? undoError.message : String(undoError))));
    }
    throw error;
  }
};
