/**
 * SER-010 on EventStoreDB: the claims of keys certified before key claims existed (machines v4). An earlier version
 * appended CredentialIssued without claiming its key on `credence-key-<fingerprint>` (append.ts claimKey), so the
 * claim streams alone do not know those keys: `keyCertifiedBy` answered none, and a v4 engine issued such a key again
 * to another node (review 201). Filled in once per log, from the CredentialIssued events of Credence's credential
 * streams in $all (a type-filtered read; another application's event of that name is not Credence's issue, review
 * 204): each key is claimed for the first stream in log order that issued it, as the embedded store's index answers.
 *
 * Safe to repeat and to run from several processes at once: a claim is appended expected `no_stream`, or, when the
 * key's newest claim names another stream (a v4 append that certified the key again before this ran, or an append
 * that failed after its claim), expected at that claim's revision, naming the first issue; keyClaimantOf reads the
 * newest claim. Two fillers append the same claim, and the second finds it there. The stream `credence-key-claims-filled`
 * records that a pass completed, so later opens skip it; it is written last, so a pass stopped partway (the store
 * closed, the server gone) is simply run again by a later one. Its record and the claims are claim markers
 * (domain/fact-claims.ts), which every reader of $all passes over.
 *
 * Only a writer fills (an append that certifies a key, the engine's lookup before it decides): a read path
 * (`keyCertifiedBy` with `readOnly`, entity replay) answers what the pass would, from reads alone (review 204).
 */
import type { EventStore, KeyLookupOptions, RecordedEvent } from '../../../../domain/ports/event-store.ts';
import { concurrencyConflict, isCredenceError } from '../../../../domain/errors.ts';
import { parseStreamId } from '../../../../domain/streams.ts';
import { isFingerprint } from '../certified-key-argument.ts';
import { claimRecord, keyClaimantOf, keyClaimOf, keyClaimStreamOf } from './append.ts';
import type { EsdbDriver } from './driver.ts';

/** The stream whose one record says the key claims of the log were filled in. */
export const KEY_CLAIMS_FILLED_STREAM = 'credence-key-claims-filled';

/** Conflicts in a row on one key's claim before the filling gives up (each means another writer claimed it meanwhile). */
const ROUNDS = 8;

/** Claims in flight at once: 10^5–10^6 keys one round trip at a time would take minutes (review 204). */
const IN_FLIGHT = 64;

type ReadAll = EventStore['readAll'];

/** What a key's claim needs of its first issue: never the whole record (its certificate), kept for every key. */
interface FirstIssue {
  readonly claimant: string;
  readonly commandId: string;
}

/** How far a pass is: the position of the last issue read, then how many of the keys found are claimed. */
export interface KeyClaimsProgress {
  readonly readTo: bigint | undefined;
  readonly keys: number | undefined;
  readonly claimed: number;
}

/** Every CredentialIssued of a credential stream, in log order, with the key it certifies (one naming none is left out). */
async function* issuesIn(readAll: ReadAll): AsyncIterable<{ readonly fingerprint: string; readonly record: RecordedEvent }> {
  for await (const record of readAll({ filter: { eventTypes: ['CredentialIssued'] } })) {
    if (parseStreamId(record.streamId)?.kind !== 'credential') continue;
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

/**
 * The key claims of one store: the pass, started by the first writer that needs it and awaited by every later one,
 * aborted by close; and the lookup, which waits for the pass only when it may write.
 */
export class KeyClaims {
  #pass: Promise<void> | undefined;
  #filled = false;
  #progress: { readTo: bigint | undefined; keys: number | undefined; claimed: number } | undefined;
  readonly #abort = new AbortController();

  constructor(
    private readonly driver: EsdbDriver,
    private readonly readAll: ReadAll,
  ) {}

  /** The stream the key's claim binds it to, as it stands once the pass has run. */
  async certifiedBy(fingerprint: string, options: KeyLookupOptions = {}): Promise<string | undefined> {
    if (options.readOnly !== true) await this.filled();
    else if (!this.#filled && !(await this.#markerRead())) {
      // What the pass would claim, without claiming it: the first issuer, else a claim with no issue behind it.
      const [first] = await keyIssuersIn(this.readAll, fingerprint);
      if (first !== undefined) return first;
    }
    return keyClaimantOf(this.driver, fingerprint);
  }

  /** Awaits the pass, starting it unless one runs; one that failed (the server unavailable) is started by the next caller. */
  filled(): Promise<void> {
    if (this.#filled) return Promise.resolve();
    if (this.#pass === undefined) {
      const pass = this.#fill();
      this.#pass = pass;
      pass.then(
        () => {
          this.#filled = true;
        },
        () => {
          if (this.#pass === pass) this.#pass = undefined;
        },
      );
    }
    return this.#pass;
  }

  /** How far the pass running now is; undefined when none runs. */
  progress(): KeyClaimsProgress | undefined {
    return this.#filled || this.#pass === undefined ? undefined : this.#progress;
  }

  /** Stops a pass at its next step and awaits it: close must not outlast a shutdown's grace (a later pass resumes). */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#pass?.catch(() => undefined);
  }

  async #markerRead(): Promise<boolean> {
    const [filled] = await this.driver.readStream(KEY_CLAIMS_FILLED_STREAM, { from: 0n, backwards: false, maxCount: 1 });
    if (filled !== undefined) this.#filled = true;
    return this.#filled;
  }

  /** Claims every key of the log for its first issuer, unless a pass completed already; then records the pass. */
  async #fill(): Promise<void> {
    const signal = this.#abort.signal;
    signal.throwIfAborted();
    if (await this.#markerRead()) return;
    const progress = { readTo: undefined as bigint | undefined, keys: undefined as number | undefined, claimed: 0 };
    this.#progress = progress;
    const first = new Map<string, FirstIssue>();
    for await (const { fingerprint, record } of issuesIn(this.readAll)) {
      signal.throwIfAborted();
      progress.readTo = record.position;
      if (!first.has(fingerprint)) first.set(fingerprint, firstIssueOf(record));
    }
    progress.keys = first.size;
    await eachInParallel(first, IN_FLIGHT, signal, async ([fingerprint, issue]) => {
      await claimFirstIssue(this.driver, fingerprint, issue);
      progress.claimed += 1;
    });
    try {
      await this.driver.append(KEY_CLAIMS_FILLED_STREAM, [claimRecord({ claimant: KEY_CLAIMS_FILLED_STREAM, commandId: 'key-claims-filled' })], 'no_stream');
    } catch (error) {
      // Another process completed its pass first: the same claims.
      if (!isCredenceError(error, 'concurrency_conflict')) throw error;
    }
  }
}

const firstIssueOf = (record: RecordedEvent): FirstIssue => {
  const commandId = record.metadata['commandId'];
  return {
    claimant: record.streamId,
    commandId: typeof commandId === 'string' && commandId.length > 0 && commandId.length <= 200 ? commandId : record.id,
  };
};

/**
 * `work` on each item, at most `limit` at once, in order of start; the first failure, or the signal, stops the rest
 * from starting. Settles once none is in flight, so a close that awaits it finds the driver idle.
 */
async function eachInParallel<T>(items: Iterable<T>, limit: number, signal: AbortSignal, work: (item: T) => Promise<void>): Promise<void> {
  const queue = items[Symbol.iterator]();
  let failed = false;
  const worker = async (): Promise<void> => {
    for (let next = queue.next(); next.done !== true; next = queue.next()) {
      if (failed) return;
      signal.throwIfAborted();
      try {
        await work(next.value);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: limit }, worker));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
}

/**
 * The key's newest claim names the stream of its first issue, appended if it did not. Expected `no_stream` first: a
 * key an earlier version certified has no claim, so one round trip claims it; the claim is read only when one is there.
 */
async function claimFirstIssue(driver: EsdbDriver, fingerprint: string, issue: FirstIssue): Promise<void> {
  const claim = claimRecord(issue);
  const claimStream = keyClaimStreamOf(fingerprint);
  let expected: 'no_stream' | bigint = 'no_stream';
  for (let round = 1; ; round++) {
    try {
      await driver.append(claimStream, [claim], expected);
      return;
    } catch (error) {
      if (!isCredenceError(error, 'concurrency_conflict')) throw error;
      if (round >= ROUNDS) throw concurrencyConflict(claimStream, 'a claim of the key for its first issue', 'other claims of it, again and again');
    }
    const held = await keyClaimOf(driver, fingerprint);
    if (held?.claimant === issue.claimant) return;
    expected = held === undefined ? 'no_stream' : held.revision;
  }
}
