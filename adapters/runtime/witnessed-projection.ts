import { validationError } from '../../domain/errors.ts';
import type { CheckpointWitness } from '../../domain/ports/index.ts';
import {
  CheckpointWitnessOfAnotherLog,
  TransparencyLogForked,
  TransparencyProjection,
  type TransparencyProjectionOptions,
} from '../../projections/transparency/index.ts';
import { CHECKPOINT_WITNESS_FIELD } from './checkpoint-witness-file.ts';

const restoreAdvice = 'README, "Restoring the event store from a backup", step 4';

/**
 * The transparency projection of a data folder, held to its checkpoint witness when one is named (review 98): a log
 * that does not extend the copy, or a copy of another log's checkpoint, refuses the opening before anything is signed,
 * naming the setting and what to do. Without a witness, the projection as before.
 */
export const witnessedTransparencyProjection = (
  options: Omit<TransparencyProjectionOptions, 'witness'>,
  dir: string,
  witness: CheckpointWitness | undefined,
): TransparencyProjection => {
  if (witness === undefined) return new TransparencyProjection(options);
  try {
    return new TransparencyProjection({ ...options, witness });
  } catch (error) {
    if (error instanceof TransparencyLogForked) {
      throw validationError(
        [
          {
            path: CHECKPOINT_WITNESS_FIELD,
            rule: 'log_extends_witness',
            message:
              `the transparency log of ${dir} does not extend the checkpoint its key last signed, kept at ${witness.where} (${error.message.replace(/^refusing to sign the transparency log: /, '')}): ` +
              `the log file was altered, or put back from an older copy, since then; nothing was signed over it. Audit it with credence verify --data ${dir} --checkpoint ${witness.where}; ` +
              `to start a new log under a new key instead (${restoreAdvice}), move ${witness.where} aside with the old log`,
          },
        ],
        'transparency log',
      );
    }
    if (error instanceof CheckpointWitnessOfAnotherLog) {
      throw validationError(
        [
          {
            path: CHECKPOINT_WITNESS_FIELD,
            rule: 'witness_of_this_log',
            message:
              `${error.message}: the setting names another log's witness, or this folder's log key was replaced. After starting a new log under a new key (${restoreAdvice}), ` +
              `move ${witness.where} aside with the old log; otherwise name this folder's witness`,
          },
        ],
        'transparency log',
      );
    }
    throw error;
  }
};
