/**
 * Appends that go on past other decisions' fact claims (review 151). A fact claim (domain/fact-claims.ts) moves its
 * stream's revision but not the entity: every reader passes over it. So a stream that moved past the revision a
 * decision read only by claims holds the entity exactly as read, and an append expecting that revision may expect the
 * new head instead, as the embedded store, which writes no claims, lets such decisions commit side by side. This
 * holds for a fact's claim (the claim at the new head is the decision's commit point against the same fact) and for
 * the decision's own stream when it is itself a fact of others (their claims on it come before the decision's
 * events, which is where they would land had the decision re-read and decided again on the same entity).
 * Anything else since the read (an event of the entity, a malformed claim, a command's event of the claim's type, a
 * gap in the revisions) still refuses the append as a conflict.
 */
import { factClaimOf, isFactClaim } from '../../../../domain/fact-claims.ts';
import { isCredenceError } from '../../../../domain/errors.ts';
import { parseStreamId } from '../../../../domain/streams.ts';
import { decode, markerOf } from './codec.ts';
import type { EsdbDriver, WireEvent, WireEventToAppend, WireExpected } from './driver.ts';

const PAGE = 100;

/**
 * How many times an append is tried at a newer head: each conflict that finds only claims means another decision
 * claimed meanwhile, so a burst of n decisions on one fact takes at most n - 1 of them; past this the conflict stands
 * and the engine re-reads and backs off.
 */
const ROUNDS = 64;

/**
 * A fact claim as the readers see one (machines/stored.ts): the claim's type and well-formed claim data, and no
 * command marker (the adapter writes claims without one; an event carrying one was appended by a command). A command
 * id's binding has the same shape but sits in its own stream, never in an entity's (headPastClaims).
 */
const isClaimMarker = (event: WireEvent): boolean => {
  if (!isFactClaim(event) || markerOf(event) !== undefined) return false;
  try {
    return factClaimOf(decode(event)) !== undefined;
  } catch {
    return false;
  }
};

/**
 * The head of an entity's stream when everything after `read` is a fact claim (no more than `limit` records), in
 * contiguous revisions; undefined when anything else is there, or the stream is no entity's.
 */
export async function headPastClaims(driver: EsdbDriver, streamId: string, read: bigint | 'no_stream', limit: number): Promise<WireExpected | undefined> {
  if (parseStreamId(streamId) === undefined) return undefined;
  let next = read === 'no_stream' ? 0n : read + 1n;
  for (let scanned = 0; scanned < limit; ) {
    const want = Math.min(PAGE, limit - scanned);
    const page = await driver.readStream(streamId, { from: next, backwards: false, maxCount: want });
    for (const event of page) {
      if (event.revision !== next || !isClaimMarker(event)) return undefined;
      next += 1n;
    }
    if (page.length < want) return next === 0n ? 'no_stream' : next - 1n;
    scanned += page.length;
  }
  return undefined;
}

/**
 * Appends at `expected`, or, when the stream moved past it only by claims, at its head: each round checks only what
 * landed since the head the last one found. A conflict past anything else is thrown as the driver threw it.
 */
export async function appendPastClaims(
  driver: EsdbDriver,
  streamId: string,
  events: readonly WireEventToAppend[],
  expected: WireExpected,
  limit: number,
): Promise<{ readonly revision: bigint; readonly position: bigint | undefined }> {
  for (let round = 1; ; round++) {
    try {
      return await driver.append(streamId, events, expected);
    } catch (error) {
      if (expected === 'any' || round >= ROUNDS || !isCredenceError(error, 'concurrency_conflict')) throw error;
      const head = await headPastClaims(driver, streamId, expected, limit);
      if (head === undefined || head === expected) throw error;
      expected = head;
    }
  }
}
