/**
 * SER-010 on EventStoreDB: the claims of keys certified before key claims existed (machines v4). An earlier version
 * appended CredentialIssued without claiming its key on `credence-key-<fingerprint>` (append.ts claimKey), so the
 * claim streams alone do not know those keys: `keyCertifiedBy` answered none, and a v4 engine issued such a key again
 * to another node (review 201). Filled in once per log, from the CredentialIssued events of $all (a type-filtered
 * read): each key is claimed for the first stream in log order that issued it, as the embedded store's index answers.
 *
 * Safe to repeat and to run from several processes at once: a claim is appended expected `no_stream`, or, when the
 * key's newest claim names another stream (a v4 append that certified the key again before this ran, or an append
 * that failed after its claim), expected at that claim's revision, naming the first issue; keyClaimantOf reads the
 * newest claim. Two fillers append the same claim, and the second finds it there. The stream `credence-key-claims-filled`
 * records that a pass completed, so later opens skip it. Its record and the claims are claim markers
 * (domain/fact-claims.ts), which every reader of $all passes over.
 */
import type { EventStore, RecordedEvent } from '../../../../domain/ports/event-store.ts';
import { concurrencyConflict, isCredenceError } from '../../../../domain/errors.ts';
import { isFingerprint } from '../certified-key-argument.ts';
import { claimRecord, keyClaimOf, keyClaimStreamOf } from './append.ts';
import type { EsdbDriver } from './driver.ts';

/** The stream whose one record says the key claims of the log were filled in. */
export const KEY_CLAIMS_FILLED_STREAM = 'credence-key-claims-filled';

/** Conflicts in a row on one key's claim before the filling gives up (each means another writer claimed it meanwhile). */
const ROUNDS = 8;

type ReadAll = EventStore['readAll'];

/** Every CredentialIssued of the log, in log order, with the key it certifies (one whose data names none is left out). */
async function* issuesIn(readAll: ReadAll): AsyncIterable<{ readonly fingerprint: string; readonly record: RecordedEvent }> {
  for await (const record of readAll({ filter: { eventTypes: ['CredentialIssued'] } })) {
    const fingerprint = (record.data as { fingerprint?: unknown }).fingerprint;
    if (isFingerprint(fingerprint)) yield { fingerprint, record };
  }
}

/** Every stream that issued `fingerprint`, each once, in log order: one pass over the log's CredentialIssued events. */
export async function keyIssuersIn(readAll: ReadAll, fingerprint: string): Promise<readonly string[]> {
  const streams: string[] = [];
  for await (const issue of issuesIn(readAll)) {
    if (issue.fingerprint === fingerprint && !streams.includes(issue.record.streamId)) streams.push(issue.record.streamId);
  }
  return streams;
}

/** Claims every key of the log for its first issuer, unless a pass completed already; then records the pass. */
export async function fillKeyClaims(driver: EsdbDriver, readAll: ReadAll): Promise<void> {
  const [filled] = await driver.readStream(KEY_CLAIMS_FILLED_STREAM, { from: 0n, backwards: false, maxCount: 1 });
  if (filled !== undefined) return;
  const first = new Map<string, RecordedEvent>();
  for await (const { fingerprint, record } of issuesIn(readAll)) if (!first.has(fingerprint)) first.set(fingerprint, record);
  for (const [fingerprint, record] of first) await claimFirstIssue(driver, fingerprint, record);
  try {
    await driver.append(KEY_CLAIMS_FILLED_STREAM, [claimRecord({ claimant: KEY_CLAIMS_FILLED_STREAM, commandId: 'key-claims-filled' })], 'no_stream');
  } catch (error) {
    // Another process completed its pass first: the same claims.
    if (!isCredenceError(error, 'concurrency_conflict')) throw error;
  }
}

/** The key's newest claim names the stream of its first issue, appended if it did not. */
async function claimFirstIssue(driver: EsdbDriver, fingerprint: string, issue: RecordedEvent): Promise<void> {
  const commandId = issue.metadata['commandId'];
  const claim = claimRecord({
    claimant: issue.streamId,
    commandId: typeof commandId === 'string' && commandId.length > 0 && commandId.length <= 200 ? commandId : issue.id,
  });
  const claimStream = keyClaimStreamOf(fingerprint);
  for (let round = 1; ; round++) {
    const held = await keyClaimOf(driver, fingerprint);
    if (held?.claimant === issue.streamId) return;
    try {
      await driver.append(claimStream, [claim], held === undefined ? 'no_stream' : held.revision);
      return;
    } catch (error) {
      if (!isCredenceError(error, 'concurrency_conflict')) throw error;
      if (round >= ROUNDS) throw concurrencyConflict(claimStream, 'a claim of the key for its first issue', 'other claims of it, again and again');
    }
  }
}
