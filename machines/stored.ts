import { factClaimOf, isFactClaim, type FactClaim } from '../domain/fact-claims.ts';
import { decodeStored, type DecodedEvent, type StoredRecord } from '../domain/stored.ts';

export type ReadStored =
  | { readonly ok: true; readonly value: DecodedEvent }
  /** A fact claim (domain/fact-claims.ts): it holds a revision of the stream but is no event of the entity. */
  | { readonly ok: 'claim'; readonly claim: FactClaim }
  | { readonly ok: false; readonly reason: string };

/**
 * A stored record as the machines may see it: decoded (upcast, parsed by zod) and addressed to the entity of the
 * stream it is stored in. Rebuilding an entity, replaying one and replaying the fleet all read events through here.
 */
export const readStored = (record: StoredRecord): ReadStored => {
  if (isFactClaim(record)) {
    const claim = factClaimOf(record);
    return claim === undefined ? { ok: false, reason: 'unreadable: malformed fact claim' } : { ok: 'claim', claim };
  }
  const decoded = decodeStored(record);
  if (decoded.ok) return decoded;
  // An event addressed to another entity than the stream's (decodeStored checks the stream) is readable but broken.
  return { ok: false, reason: decoded.misplaced === true ? decoded.reason : `unreadable: ${decoded.reason}` };
};
