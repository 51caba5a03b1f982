import { concatBytes, constantTimeEqual } from '../../../domain/crypto/bytes.ts';
import { sha256 } from '../../../domain/crypto/hash.ts';

/**
 * se_meta's record of the KEKs a key database was re-sealed away from by `credence kek rotate` (review 131): for each,
 * the SHA-256 of the KEK check value it had sealed, 32 bytes each, oldest first. A check value is sealed once per KEK
 * (at set-up, at each rotation) under a random nonce, so its digest names that KEK in this key database and its
 * copies without a byte of it, nor anything that tests a guess of it. What tells a whole-folder restore that brought
 * back a KEK rotated out since the backup (destroyed-since.ts kekOfRestored): the restored key database's
 * check value is one the folder moved aside retired.
 */
export const KEK_RETIRED = 'kek_retired';

const DIGEST_LENGTH = 32;

const digestOf = (check: Uint8Array): Uint8Array => sha256(check);

/** `retired` (the record as stored, if any) with the KEK whose check value is `check` added. */
export const withRetiredKek = (retired: Uint8Array | undefined, check: Uint8Array): Uint8Array => concatBytes(retired ?? new Uint8Array(0), digestOf(check));

/** Whether `retired` names the KEK whose check value is `check`. A partial trailing entry (damage) names none. */
export const isRetiredKek = (retired: Uint8Array | undefined, check: Uint8Array): boolean => {
  if (retired === undefined) return false;
  const digest = digestOf(check);
  let found = false;
  for (let at = 0; at + DIGEST_LENGTH <= retired.length; at += DIGEST_LENGTH) {
    if (constantTimeEqual(retired.subarray(at, at + DIGEST_LENGTH), digest)) found = true;
  }
  return found;
};
