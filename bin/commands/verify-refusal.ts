import { toHex } from '../../domain/crypto/index.ts';
import type { LogRefusal } from '../../domain/ports/index.ts';
import { describeRefusal } from '../../projections/transparency/index.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';

/** A refusal kept in transparency.db, as `--json` prints it: positions and hex leaf hashes. */
export const refusalJson = (r: LogRefusal): object => ({
  refusedAt: r.refusedAt,
  leafIndex: r.leafIndex,
  position: r.position.toString(10),
  expectedLeafHash: toHex(r.expectedLeafHash),
  foundLeafHash: r.foundLeafHash === undefined ? null : toHex(r.foundLeafHash),
});

/**
 * `credence verify --data` over a log that refused to go on (TransparencyProjection keeps the refusal in its file): said
 * beside the audit's finding. With the store found to match the log, the service lifts it at its next start; until
 * then nothing is logged or signed, which an auditor must hear even though the files agree.
 */
export const reportRefusal = (refusal: LogRefusal | undefined, matches: boolean, io: Io): void => {
  if (refusal === undefined) return;
  const lifted = matches ? '; events.db now holds every logged event, so the service lifts the refusal at its next start' : '';
  io.err(printable(`${matches ? 'warning' : 'REFUSED'}: the transparency log stopped logging and signing: ${describeRefusal(refusal)}${lifted}`));
};
