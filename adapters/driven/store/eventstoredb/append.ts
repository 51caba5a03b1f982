/**
 * Append with an expected revision, and the port's idempotency by command id on a server that has no table of
 * command ids.
 *
 * EventStoreDB deduplicates on event ids: a batch re-sent with the same ids at the same expected revision is
 * answered with the first write's result and writes nothing; a re-send at another expectation is a wrong expected
 * version. Callers derive event ids from the command id, so with a `commandId`:
 * 1. each event's metadata carries `$credence: { commandId, attempt }`, `attempt` random per call;
 * 2. on success, the last event of the batch is read back: if its `attempt` is not ours, the server deduplicated
 *    against an earlier write and the result is returned with `deduplicated: true` (a repeat the server answered
 *    without a position, as older servers do, takes its position from the event read back);
 * 3. on a wrong expected version, the tail of the stream (newest first, up to `scanLimit` events) is searched for
 *    an event of this batch (same id) or of this command (same command id); if found, the first write's result
 *    (revision and position of its last event) is returned with `deduplicated: true`, otherwise the conflict stands;
 * 4. with expected revision `any` (no conflict possible), the same search runs before appending.
 * 5. a command id is bound to one stream, as the embedded store's table of command ids binds it: once the stream is
 *    read at the expected revision and each fact at its own (a refused append binds nothing), and before its events,
 *    the append claims the id on `credence-command-<id>` (a claim marker, expected `no_stream`). A claim naming this
 *    stream is an earlier attempt of the same command, whose events are looked for in every record since the claim
 *    (written before them), past `scanLimit` (review 316), before it goes on to steps 2-4; one naming another stream answers
 *    with that stream's first append of the command, `deduplicated`, with nothing written, and the engine, finding
 *    no event of the command on its own stream, refuses the reused id as on the embedded store. Event ids derive
 *    from the command id, so without this an id reused on another stream stored a second event under the same
 *    event id.
 * Limits: under `any` two concurrent appends of one command to one stream can both pass step 4, and an id whose
 * claim was written by an append that then failed (its stream moved between the read and the append, a crash)
 * stays bound to that stream. Costs two extra reads and one extra write per append with a command id.
 *
 * Facts (`options.facts`, the other streams a decision read): EventStoreDB has no condition across streams, so the
 * decision first claims each fact on the fact's own stream, a `CredenceFactClaimed` marker appended with the
 * revision read as the expected revision (domain/fact-claims.ts), or past other decisions' claims since that revision
 * (past-claims.ts: they do not change the fact; the decision's own stream passes them the same way). Every fact is
 * first read at its revision, so a fact that moved before the decision's append refuses it before anything is
 * written or bound; one that moves after that
 * read makes its claim, and so the append, fail with a conflict before anything of the decision is written (claims
 * on the facts before it stay, and the id stays bound). A claim is the decision's commit point against that fact: a
 * change of the fact after it is ordered after the claim (it conflicts with it or reads it), and replay judges the
 * claimant's events against the fact as it stood at the claim. A crash or a conflict after some claims leaves
 * markers that every reader passes over. See docs/eventstoredb.md, "Decisions and their facts".
 *
 * A certified key (`options.certifiesKey`, SER-010): once the facts are read, and before the command id is bound or a
 * fact claimed, the append claims the key on `credence-key-<fingerprint>` (a claim marker, expected `no_stream`), so
 * an append that lost the key, to an issue before it or one at the same moment, writes nothing (reviews 201, 216); a
 * claim naming another stream is a conflict, and the engine's retry reads it (`keyCertifiedBy`) and refuses by the
 * rule. The id's binding is read first, so an id bound elsewhere is answered as a repeat with no key claimed. Limits as for command ids: a claim whose append then failed keeps the key bound to that stream (issuing
 * it elsewhere is refused with a conflict, the safe side). Keys certified before claims existed get theirs from the
 * log before the store answers or certifies any key (key-claims.ts).
 */
import { randomUUID } from 'node:crypto';
import { concurrencyConflict, isCredenceError } from '../../../../domain/errors.ts';
import { FACT_CLAIM_TYPE, type FactClaim } from '../../../../domain/fact-claims.ts';
import type { AppendOptions, AppendResult, EventToAppend, ExpectedRevision, FactRead } from '../../../../domain/ports/event-store.ts';
import { checkClaimLimits, checkEventsToAppend, checkExpectedRevision, checkFacts, checkId } from '../append-arguments.ts';
import { checkCertifiesKey } from '../certified-key-argument.ts';
import { asAppendFailure, EventStoreDbError, type EsdbDriver, type WireEvent, type WireEventToAppend, type WireExpected } from './driver.ts';
import { decode, encode, markerOf } from './codec.ts';
import { appendPastClaims, headPastClaims } from './past-claims.ts';

const PAGE = 100;

/** An append checked and serialised at the call (prepareAppend), ready to go to the server when its turn comes. */
export interface PreparedAppend {
  readonly streamId: string;
  readonly encoded: readonly WireEventToAppend[];
  readonly expected: WireExpected;
  readonly commandId: string | undefined;
  readonly attempt: string;
  /** One per fact stream (dedupeFacts). */
  readonly facts: readonly FactRead[];
  /** Fact streams listed more than once with different revisions: at most one of them can be current. */
  readonly disagreeing: readonly FactRead[];
  /** The key the events certify (SER-010), claimed right before them. */
  readonly certifiesKey: string | undefined;
}

/**
 * Everything that can refuse the append without the server, with the embedded store's checks (append-arguments.ts):
 * throws before anything is sent, so a refused append writes nothing.
 */
export function prepareAppend(streamId: string, events: readonly EventToAppend[], options: AppendOptions): PreparedAppend {
  checkEventsToAppend(streamId, events);
  checkFacts(streamId, options.facts);
  checkExpectedRevision(options.expectedRevision);
  const commandId = options.commandId;
  if (commandId !== undefined) checkId(commandId, 'options.commandId');
  const certifiesKey = checkCertifiesKey(options.certifiesKey);
  checkClaimLimits(streamId, options);
  const expected = wireExpected(options.expectedRevision);
  const attempt = randomUUID();
  const encoded = events.map((e, i) => encode(e, commandId === undefined ? undefined : { commandId, attempt }, i));
  checkDistinctIds(encoded);
  return { streamId, encoded, expected, commandId, attempt, certifiesKey, ...dedupeFacts(options.facts ?? []) };
}

/**
 * The server would store two events of one batch under one id (it compares ids as UUIDs, so case aside); the
 * embedded store refuses the second, with this message.
 */
function checkDistinctIds(encoded: readonly WireEventToAppend[]): void {
  const seen = new Set<string>();
  encoded.forEach(({ id }, i) => {
    if (seen.has(id)) throw new Error(`events[${i}].id: event id ${id} is already stored`);
    seen.add(id);
  });
}

/**
 * One claim per fact stream: a second claim at the same revision would fail against the first (it moved the stream),
 * a conflict on every retry, where the embedded store checks the stream twice and commits. Entries that name
 * different revisions are kept aside, each checked against the stream's head (assertAt) before any claim.
 */
function dedupeFacts(facts: readonly FactRead[]): { facts: FactRead[]; disagreeing: FactRead[] } {
  const first = new Map<string, FactRead>();
  const disagreeing: FactRead[] = [];
  for (const fact of facts) {
    const earlier = first.get(fact.streamId);
    if (earlier === undefined) first.set(fact.streamId, fact);
    else if (earlier.revision !== fact.revision) disagreeing.push(earlier, fact);
  }
  return { facts: [...first.values()], disagreeing };
}

/**
 * A transient failure once a write of the append has gone out says the events may have been written (driver.ts
 * MAY_BE_WRITTEN): a claim, the append itself or the read back after it may be the step cut off, and only a retry with
 * the same command id knows. One before any write (the reads that check the stream and its facts) says nothing was
 * written (NOTHING_WRITTEN, review 316).
 */
export async function appendToStream(driver: EsdbDriver, prepared: PreparedAppend, scanLimit: number): Promise<AppendResult> {
  let written = false;
  // Counted as gone out when sent, not when answered: a write cut off mid-call may have been stored.
  const watched: EsdbDriver = {
    append: (...args) => {
      written = true;
      return driver.append(...args);
    },
    readStream: (...args) => driver.readStream(...args),
    readAllForwards: (...args) => driver.readAllForwards(...args),
    readAllBackwards: (...args) => driver.readAllBackwards(...args),
    subscribeToAll: (...args) => driver.subscribeToAll(...args),
    ensurePersistentGroupOnAll: (...args) => driver.ensurePersistentGroupOnAll(...args),
    subscribePersistentOnAll: (...args) => driver.subscribePersistentOnAll(...args),
    close: () => driver.close(),
  };
  try {
    return await appendSteps(watched, prepared, scanLimit);
  } catch (error) {
    throw asAppendFailure(error, written);
  }
}

async function appendSteps(driver: EsdbDriver, prepared: PreparedAppend, scanLimit: number): Promise<AppendResult> {
  const { streamId, encoded, expected, commandId, attempt, facts, disagreeing, certifiesKey } = prepared;
  const ids = new Set(encoded.map((e) => e.id));
  if (facts.length > 0) {
    // Idempotency comes first, as on the embedded store: a retried decision must find its first write even when
    // its facts have moved since.
    if (commandId !== undefined) {
      const earlier = await findEarlierAppend(driver, streamId, ids, commandId, scanLimit);
      if (earlier !== undefined) return earlier;
    }
    // A decision made on a stale copy of its own stream would fail at its append anyway: find out before claiming,
    // so a stale decision leaves no claims behind on streams other writers share.
    await assertAt(driver, streamId, expected, scanLimit);
    // Entries that disagree cannot all be current: the stale one is the conflict, found before anything is written.
    // Every fact is read at its revision too, before the command id is bound or any fact claimed: a fact found moved
    // at its claim had bound the id to a refused append (a repeat with nothing written, at the id's next use) and
    // left claims on the facts before it (review 132). Only a fact that moves between this read and its claim still
    // refuses the append after them.
    const undisputed = facts.filter((fact) => !disagreeing.includes(fact));
    // Other decisions' claims since a fact was read do not move it (past-claims.ts); they cannot reconcile entries
    // that name different revisions, which the embedded store refuses too.
    for (const fact of disagreeing) await assertAt(driver, fact.streamId, fact.revision ?? 'no_stream');
    for (const fact of undisputed) await assertAt(driver, fact.streamId, fact.revision ?? 'no_stream', scanLimit);
    // The key is claimed here, before the id is bound or a fact claimed: an append that lost it, to a claim made
    // before or at the same moment, writes nothing (reviews 201, 216).
    if (certifiesKey !== undefined) {
      const answered = await claimKeyFirst(driver, streamId, certifiesKey, commandId, ids, scanLimit);
      if (answered !== undefined) return answered;
    }
    if (commandId !== undefined) {
      const elsewhere = await claimCommand(driver, streamId, ids, commandId, scanLimit);
      if (elsewhere !== undefined) return elsewhere;
    }
    await claimFacts(driver, streamId, facts, commandId ?? randomUUID(), scanLimit);
  }
  if (commandId === undefined) {
    // With facts, the key was claimed before them (above).
    if (certifiesKey !== undefined && facts.length === 0) await claimKey(driver, streamId, certifiesKey, randomUUID());
    const written = await appendPastClaims(driver, streamId, encoded, expected, scanLimit);
    // No position: the server took the batch for a repeat of one it holds (same ids) and wrote nothing.
    if (written.position !== undefined) return { nextExpectedRevision: written.revision, position: written.position, deduplicated: false };
    const [last] = await driver.readStream(streamId, { from: written.revision, backwards: false, maxCount: 1 });
    return { nextExpectedRevision: written.revision, position: positionOf(last, streamId), deduplicated: true };
  }
  if (expected === 'any') {
    const earlier = await findEarlierAppend(driver, streamId, ids, commandId, scanLimit);
    if (earlier !== undefined) return earlier;
  }
  if (facts.length === 0) {
    // As with facts: an append refused for its expected revision must not bind the id first, or the id's later
    // use on another stream would be answered as a repeat of a command that wrote nothing. A retry of a command
    // that did write is refused here too (its own write moved the stream), so the search for that write runs here.
    try {
      await assertAt(driver, streamId, expected, scanLimit);
    } catch (error) {
      if (!isCredenceError(error, 'concurrency_conflict')) throw error;
      const earlier = await findEarlierAppend(driver, streamId, ids, commandId, scanLimit);
      if (earlier !== undefined) return earlier;
      throw error;
    }
    // As with facts: the key is claimed before the id is bound (reviews 201, 216).
    if (certifiesKey !== undefined) {
      const answered = await claimKeyFirst(driver, streamId, certifiesKey, commandId, ids, scanLimit);
      if (answered !== undefined) return answered;
    }
    const elsewhere = await claimCommand(driver, streamId, ids, commandId, scanLimit);
    if (elsewhere !== undefined) return elsewhere;
  }
  try {
    const written = await appendPastClaims(driver, streamId, encoded, expected, scanLimit);
    const [last] = await driver.readStream(streamId, { from: written.revision, backwards: false, maxCount: 1 });
    const ours = last !== undefined && markerOf(last)?.attempt === attempt;
    // A repeat answered without a position (older servers, review 55) is found here too: the event read back has one.
    const position = written.position ?? positionOf(last, streamId);
    return { nextExpectedRevision: written.revision, position, deduplicated: !ours || written.position === undefined };
  } catch (error) {
    if (!isCredenceError(error, 'concurrency_conflict')) throw error;
    const earlier = await findEarlierAppend(driver, streamId, ids, commandId, scanLimit);
    if (earlier !== undefined) return earlier;
    throw error;
  }
}

/** The position of the event read back after an append the server answered without one. */
function positionOf(last: WireEvent | undefined, streamId: string): bigint {
  if (last?.position === undefined) throw new EventStoreDbError(`append to ${streamId}: no position returned, and none read back`, false);
  return last.position;
}

/**
 * The stream's current revision must be what the decision expects (a read; the append re-checks it atomically), or,
 * given `pastClaimsWithin`, one only fact claims moved it to (past-claims.ts).
 */
async function assertAt(driver: EsdbDriver, streamId: string, expected: WireExpected, pastClaimsWithin?: number): Promise<void> {
  if (expected === 'any') return;
  const [last] = await driver.readStream(streamId, { from: 'end', backwards: true, maxCount: 1 });
  const actual = last?.revision;
  if (expected === 'no_stream' ? actual === undefined : actual === expected) return;
  if (pastClaimsWithin !== undefined && (await headPastClaims(driver, streamId, expected, pastClaimsWithin)) !== undefined) return;
  throw concurrencyConflict(streamId, expected === 'no_stream' ? 'no stream' : `revision ${expected}`, actual === undefined ? 'no stream' : `revision ${actual}`);
}

/** The stream that binds a command id to the one stream its events go to (step 5 above). */
export const commandClaimStreamOf = (commandId: string): string => `credence-command-${commandId}`;

/**
 * Binds the command id to `streamId`, or finds it bound already: undefined when the append may go on (a fresh claim,
 * or this stream's from an earlier attempt that wrote nothing), otherwise the first append's result on the stream the
 * id is bound to, deduplicated, with nothing written.
 */
async function claimCommand(
  driver: EsdbDriver,
  streamId: string,
  ids: ReadonlySet<string>,
  commandId: string,
  scanLimit: number,
): Promise<AppendResult | undefined> {
  const claimStream = commandClaimStreamOf(commandId);
  try {
    await driver.append(claimStream, [claimRecord({ claimant: streamId, commandId })], 'no_stream');
    return undefined;
  } catch (error) {
    if (!isCredenceError(error, 'concurrency_conflict')) throw error;
  }
  const [first] = await driver.readStream(claimStream, { from: 0n, backwards: false, maxCount: 1 });
  if (first === undefined || first.position === undefined) throw concurrencyConflict(claimStream, 'no stream', 'a stream with no readable claim');
  return boundAnswer(driver, streamId, ids, commandId, first, first.position, scanLimit);
}

/**
 * What an id bound already answers (`first`, its claim): undefined when the append may go on (bound to this stream by
 * an earlier attempt that wrote nothing), otherwise the first append's result, deduplicated, with nothing written.
 */
async function boundAnswer(
  driver: EsdbDriver,
  streamId: string,
  ids: ReadonlySet<string>,
  commandId: string,
  first: WireEvent,
  position: bigint,
  scanLimit: number,
): Promise<AppendResult | undefined> {
  // Read as written, not through the claim's schema: a claim this adapter wrote is always its own (ids of any length).
  const claimant = (decode(first).data as { claimant?: unknown }).claimant;
  // Bound to this stream by an earlier attempt, which may have written: a retry at the revision its own write left
  // (the caller read the head again) passes the revision check, and the server takes it as a new write (review 115).
  // That attempt wrote its events after the claim, so everything since the claim is searched, past the scan limit
  // too: a stream that grew by more than that since (fact claims) hid the first write, and it was written again
  // (review 316).
  if (claimant === streamId) return findEarlierAppend(driver, streamId, ids, commandId, scanLimit, position);
  const earlier = typeof claimant === 'string' ? await findEarlierAppend(driver, claimant, ids, commandId, scanLimit) : undefined;
  if (earlier !== undefined) return earlier;
  // No first append to report: the binding's append failed after it (a conflict, a crash), or its events are past
  // the scan. The id stays refused on this stream all the same, and the claim's own place is the only result there
  // is; the engine finds none of the command's events on its stream and refuses the reused id.
  return { nextExpectedRevision: first.revision, position, deduplicated: true };
}

/** The stream that binds a certified key to the one credential stream that certified it (SER-010). */
export const keyClaimStreamOf = (fingerprint: string): string => `credence-key-${fingerprint}`;

/**
 * Binds the key to `streamId`, or finds it bound there by an earlier attempt of the same credential; bound to another
 * stream, a conflict that names neither stream's key nor the other stream (it may reach a caller who may not know it).
 */
async function claimKey(driver: EsdbDriver, streamId: string, fingerprint: string, commandId: string): Promise<void> {
  const claimStream = keyClaimStreamOf(fingerprint);
  try {
    await driver.append(claimStream, [claimRecord({ claimant: streamId, commandId })], 'no_stream');
    return;
  } catch (error) {
    if (!isCredenceError(error, 'concurrency_conflict')) throw error;
  }
  if ((await keyClaimantOf(driver, fingerprint)) !== streamId) {
    throw concurrencyConflict(streamId, 'a key no other credential certified', 'a key another credential certified');
  }
}

/**
 * Claims the key before the command id is bound or any fact claimed (claimKey): of two appends that found the key
 * free, the one whose claim lands second is refused with nothing of its own written (review 216). The id's binding is
 * read first: an id bound to another stream (reused) or an earlier attempt's write is answered as claimCommand
 * answers it, with no key claimed for it. Undefined: the key is this stream's, and the append goes on.
 */
async function claimKeyFirst(
  driver: EsdbDriver,
  streamId: string,
  fingerprint: string,
  commandId: string | undefined,
  ids: ReadonlySet<string>,
  scanLimit: number,
): Promise<AppendResult | undefined> {
  if (commandId !== undefined) {
    const [first] = await driver.readStream(commandClaimStreamOf(commandId), { from: 0n, backwards: false, maxCount: 1 });
    if (first?.position !== undefined) {
      const answered = await boundAnswer(driver, streamId, ids, commandId, first, first.position, scanLimit);
      if (answered !== undefined) return answered;
    }
  }
  await claimKey(driver, streamId, fingerprint, commandId ?? randomUUID());
  return undefined;
}

/**
 * The stream a key's claim binds it to (keyClaimStreamOf), read as written; undefined when none claimed it. The newest
 * claim: the first is an append's (expected `no_stream`), and only the filling-in of keys certified before claims
 * existed (key-claims.ts) appends another, naming the key's first issue in the log when the first claim named a later
 * one.
 */
export async function keyClaimantOf(driver: EsdbDriver, fingerprint: string): Promise<string | undefined> {
  return (await keyClaimOf(driver, fingerprint))?.claimant;
}

/** The key's newest claim and its revision (keyClaimantOf); undefined when the key has no claim stream. */
export async function keyClaimOf(driver: EsdbDriver, fingerprint: string): Promise<{ claimant: string | undefined; revision: bigint } | undefined> {
  const [last] = await driver.readStream(keyClaimStreamOf(fingerprint), { from: 'end', backwards: true, maxCount: 1 });
  if (last === undefined) return undefined;
  const claimant = (decode(last).data as { claimant?: unknown }).claimant;
  return { claimant: typeof claimant === 'string' ? claimant : undefined, revision: last.revision };
}

/** A claim marker as appended: a fact's (claimFacts), a command id's binding (claimCommand) or a key's (claimKey). */
export const claimRecord = (claim: FactClaim) => encode({ id: randomUUID(), type: FACT_CLAIM_TYPE, data: { ...claim }, metadata: {} }, undefined, 0);

/**
 * One claim per fact, each at the revision the decision read or past the claims other decisions made on it since
 * (past-claims.ts: the same fact, so the same commit point); the first that fails is the conflict.
 */
async function claimFacts(driver: EsdbDriver, claimant: string, facts: readonly FactRead[], commandId: string, scanLimit: number): Promise<void> {
  for (const fact of facts) {
    await appendPastClaims(driver, fact.streamId, [claimRecord({ claimant, commandId })], fact.revision === undefined ? 'no_stream' : fact.revision, scanLimit);
  }
}

/**
 * Newest first, the first event of this batch or command is the last event the earlier append wrote. The newest
 * `scanLimit` records are searched and, given `since` (the position of the command id's claim, which its append
 * writes before any of its events), every record after it too, however many: one page at a time, so memory stays
 * bounded while the search is exact.
 */
async function findEarlierAppend(
  driver: EsdbDriver,
  streamId: string,
  ids: ReadonlySet<string>,
  commandId: string,
  scanLimit: number,
  since?: bigint,
): Promise<AppendResult | undefined> {
  let from: bigint | 'end' = 'end';
  let scanned = 0;
  for (;;) {
    const want = since === undefined ? Math.min(PAGE, scanLimit - scanned) : PAGE;
    if (want <= 0) return undefined;
    const page = await driver.readStream(streamId, { from, backwards: true, maxCount: want });
    for (const event of page) {
      if (scanned >= scanLimit && !isAfterClaim(event, since)) return undefined;
      if (ids.has(event.id.toLowerCase()) || markerOf(event)?.commandId === commandId) {
        if (event.position === undefined) return undefined;
        return { nextExpectedRevision: event.revision, position: event.position, deduplicated: true };
      }
      scanned += 1;
    }
    const oldest = page.at(-1);
    if (oldest === undefined || oldest.revision === 0n || page.length < want) return undefined;
    from = oldest.revision - 1n;
  }
}

/**
 * Whether a record was written after the command id's claim (at `since`): the search goes on past such records, as
 * an earlier attempt's events came after its claim. Without a position to compare, where the claim stands cannot be
 * told: the append is refused rather than risk writing the command's events a second time.
 */
function isAfterClaim(event: WireEvent, since: bigint | undefined): boolean {
  if (since === undefined) return false;
  if (event.position === undefined) {
    throw new EventStoreDbError(
      `append to ${event.streamId}: the command id is bound to this stream, and its earlier attempt's events cannot be looked for past the idempotency scan limit without positions on stream reads, which the server did not return (EventStoreDB 22.6 or later returns them); nothing was appended`,
      false,
    );
  }
  return event.position > since;
}

function wireExpected(expected: ExpectedRevision): WireExpected {
  switch (expected.kind) {
    case 'any':
      return 'any';
    case 'no_stream':
      return 'no_stream';
    case 'exact':
      // A bigint >= 0: checked with the other arguments (checkExpectedRevision).
      return expected.revision;
  }
}
