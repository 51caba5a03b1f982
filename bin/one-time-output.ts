import { fstatSync, statSync } from 'node:fs';
import type { Io } from './io.ts';
import { printable } from './printable.ts';

/** An Io whose stdout can say whether a line reached the system: the CLI's (bin/cli.ts). */
export interface DeliveringIo extends Io {
  /** Writes `line` and resolves once the system has all of it; rejects where it did not (a full disk, a reader gone). */
  deliver(line: string): Promise<void>;
  /** Whether stdout is /dev/null, where what is written is written nowhere (the CLI's: isTheNullDevice(1)). */
  readonly discards?: () => boolean;
}

/**
 * Whether `fd` is /dev/null: a character device with its device number. `> /dev/null`, and `>&-`, a stdout closed,
 * which Node reopens on /dev/null (review 465).
 */
export const isTheNullDevice = (fd: number): boolean => {
  try {
    const stat = fstatSync(fd);
    return stat.isCharacterDevice() && stat.rdev === statSync('/dev/null').rdev;
  } catch {
    return false;
  }
};

/**
 * Why `what` (a token), printed once, must not be made: stdout is /dev/null, so it would be written nowhere and be
 * lost while still valid (review 465; a write that fails is undone by printOneTimeValue, this one never fails).
 * Asked before it is made, as bad usage (exit 2); undefined where stdout takes it.
 */
export const oneTimeOutputRefusal = (io: Io, what: string): string | undefined =>
  delivers(io) && io.discards?.() === true
    ? `standard output: is /dev/null (or closed): ${what} is shown once, so it would be lost; nothing was issued: write it to a terminal, a file or a pipe`
    : undefined;

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
