import { writeFileAtomic } from '../../adapters/driven/files/index.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { UsageError } from '../program.ts';
import { CannotWrite, refusedWriteOf } from '../write-failure.ts';

/**
 * `--save-checkpoint`: the latest signed checkpoint of a verification that passed (`--data`, or a server's with
 * `--server`), for the next one's `--checkpoint` or `--from` (README, "Offline verification"). Written whole or not at
 * all, replacing the one kept before (the usual file of both options). A store with no event has no checkpoint yet:
 * nothing is written, and that is said.
 */
export const saveCheckpoint = (path: string, note: string | undefined, io: Io): void => {
  if (note === undefined) {
    io.err(printable(`warning: --save-checkpoint: the log has no signed checkpoint yet; ${path} not written`));
    return;
  }
  try {
    writeFileAtomic(path, note, { mode: 0o644, underUmask: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (refusedWriteOf(error) !== undefined) throw new CannotWrite(path, code!);
    throw new UsageError(`--save-checkpoint: cannot write ${path} (${code ?? 'unwritable'})`);
  }
};
