import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { validationError } from '../../../domain/errors.ts';
import type { CaId } from '../../../domain/x509/issuing-ca.ts';
import { preparePrivateDir, writeFileAtomic } from '../files/index.ts';
import { refuseNewerFileVersion } from '../files/newer-file-version.ts';

/** Gives out a CA's CRL numbers: strictly increasing, never one twice, across restarts (RFC 5280 5.2.3). */
export interface CrlNumbers {
  next(): number;
}

/** Numbers reserved per write: a restart skips what was reserved and unused (gaps are allowed, reuse is not). */
const BLOCK = 1000;
/** The highest reservation the file holds (CrlNumberFile): one past it would be written, then refused at the next start. */
const MAX_RESERVED = Number.MAX_SAFE_INTEGER - BLOCK;

/**
 * Numbers per second of the clock. No number given out is below the clock's seconds times this: a data folder restored
 * from a backup (its number file older than the CRLs published since) starts above every number published before,
 * unless the CA went on publishing faster than this many CRLs per second on average since (deltas are coalesced).
 */
const PER_SECOND = 1000;

/** The lowest number the clock (`now`, ms) lets a CA give out now (PER_SECOND). */
const clockFloor = (now: () => number): number => {
  const floor = Math.floor(now() / 1000) * PER_SECOND;
  if (!Number.isSafeInteger(floor) || floor < 0) throw new RangeError('now: must be a time in ms after 1970');
  return floor;
};

/** The layout of the CRL number files this version writes and reads; a file of a newer one is refused (fileCrlNumbers). */
const CRL_NUMBER_FILE_VERSION = 1;

const CrlNumberFile = z.strictObject({
  version: z.literal(CRL_NUMBER_FILE_VERSION),
  caId: z.string().max(63),
  /** Every number up to this one may have been given out. */
  reservedThrough: z.number().int().min(0).max(MAX_RESERVED),
});

/**
 * A number file that cannot be read is refused, not moved aside as a damaged CRL base file is (review 231): the clock's
 * floor does not stand in for it. A clock set back since numbers were reserved (or one that ran ahead, then put right)
 * leaves the floor below numbers already given out, and the file is what keeps them increasing then; so is a CA that
 * published faster than PER_SECOND. The refusal names what is wrong and what the operator can do.
 */
const damaged = (path: string, caId: CaId, why: string) =>
  validationError(
    [
      {
        path,
        rule: 'crl_number_file',
        message:
          `is not the CRL number file of CA ${caId} (${why}): which CRL numbers the CA gave out is unknown, and none may be ` +
          'given out twice (RFC 5280 5.2.3). Either put it back from a backup of the data folder (the clock then covers ' +
          `the CRLs published since, as after any restore), or write it as {"version":1,"caId":"${caId}","reservedThrough":N}, ` +
          `N at least the highest CRL number CA ${caId} published (openssl crl -noout -crlnumber on its latest complete and ` +
          `delta CRLs, in decimal). Deleting it is safe only if this host's clock was never set back: its numbers then ` +
          `start at the clock's seconds times ${PER_SECOND}`,
      },
    ],
    'CRL numbers',
  );

/**
 * CRL numbers kept in `<data>/pki/<ca>.crl-number.json` (written atomically, parsed on read). Blocks of numbers are
 * reserved on disk before any of them is used, so a crash at any point can only leave a gap, and a clock set back
 * cannot repeat a number. Not a read model: rebuilding the revocation read model must not rewind it. The file alone
 * cannot survive a restore from a backup, which rewinds it too: the clock (`now`, ms) gives the floor (PER_SECOND).
 */
export const fileCrlNumbers = (dataDir: string, caId: CaId, now: () => number): CrlNumbers => {
  const dir = join(dataDir, 'pki');
  const path = join(dir, `${caId}.crl-number.json`);
  let reservedThrough = 0;
  if (existsSync(path)) {
    const value = (() => {
      try {
        return JSON.parse(readFileSync(path, 'utf8')) as unknown;
      } catch {
        return undefined;
      }
    })();
    // Before the schema: "is not the CRL number file" of a newer one would invite its repair or deletion (review 123).
    refuseNewerFileVersion(value, path, 'CRL number', CRL_NUMBER_FILE_VERSION);
    const parsed = CrlNumberFile.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw damaged(path, caId, value === undefined ? 'not JSON' : `${issue?.path.join('.') || 'the file'}: ${issue?.message ?? 'malformed'}`);
    }
    if (parsed.data.caId !== caId) throw damaged(path, caId, `it names CA ${parsed.data.caId}`);
    reservedThrough = parsed.data.reservedThrough;
  }
  let next = reservedThrough + 1;
  const reserve = (): void => {
    // A clock far in the future (the floor) can take the numbers there: refused before anything is written.
    if (next + BLOCK - 1 > MAX_RESERVED) throw new RangeError(`CRL numbers: ${next} is past the last number CA ${caId} can reserve`);
    reservedThrough = next + BLOCK - 1;
    preparePrivateDir(dir);
    writeFileAtomic(path, `${JSON.stringify({ version: CRL_NUMBER_FILE_VERSION, caId, reservedThrough })}\n`);
  };
  return {
    next() {
      next = Math.max(next, clockFloor(now));
      if (next > reservedThrough) reserve();
      return next++;
    },
  };
};

/**
 * In memory (an instance without a data folder): strictly increasing for the life of the process, and across restarts
 * by the clock's floor alone. Its CA's key may outlive the process (in an HSM, or `cas` given without a data folder):
 * starting again at 1 would reuse numbers already published (RFC 5280 5.2.3), so no number is below the clock's
 * seconds times PER_SECOND, as in fileCrlNumbers.
 */
export const memoryCrlNumbers = (now: () => number): CrlNumbers => {
  let next = 1;
  return {
    next() {
      next = Math.max(next, clockFloor(now));
      return next++;
    },
  };
};
