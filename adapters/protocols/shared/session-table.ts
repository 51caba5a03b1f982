import { toBase64url } from '../../../domain/crypto/base64url.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';
import { keyGoneAt, keyGoneBeforeProof } from './key-gone.ts';

export interface SessionBase {
  readonly id: string;
  stage: string;
  /** Set by the last step: the session is dropped (and cleaned up) instead of kept for the next message. */
  done?: boolean;
  /** Set by the step that verified the initiator's proof: the session is no longer evictable by a flood. */
  authenticated?: boolean;
}

/** Who a hello claims to be, its nonce and where it came from: all a responder knows of a peer before its proof. */
export interface Claim {
  readonly claimant: string;
  readonly nonce: string;
  /**
   * The network address the hello came from, as its transport saw it (over HTTP the connection's, `request.ip`, in
   * one form per address, or a bucket of its own when unknown: `helloPeer`); absent for an in-process caller only,
   * whose runs are then bounded per claimed identity alone.
   */
  readonly peer?: string | undefined;
}

/** The pending runs one hello competes with: its claimed identity's from the same peer (unambiguous for any strings). */
const pendingKey = ({ claimant, peer }: Claim): string => JSON.stringify(peer === undefined ? [claimant] : [claimant, peer]);

const DEFAULT_MAX_SESSIONS = 10_000;
const DEFAULT_MAX_PENDING_PER_CLAIMANT = 4;
const DEFAULT_MAX_AUTHENTICATED_PER_CLAIMANT = 4;

interface Entry<S> {
  readonly session: S;
  readonly expiresAtMs: number;
  readonly claim: Claim;
}

/**
 * In-flight protocol runs on the responder side. A session is taken out of the table while a message is being
 * handled, so a duplicate of that message arriving meanwhile finds no session: one step at a time, and a proof is
 * checked at most once per stage. A message refused before any proof of it is checked (a stage the run is not at,
 * `step`'s `admit`: a nonce or fingerprint not the run's) is refused without ending the run, which stays as it was,
 * its expiry included (review 224: anyone who saw a session id could end the run, a PSK already delivered with it).
 * However many: review 227 ended the run at the eighth, and eight replays of a captured auth did what one did before.
 * Such a refusal costs no Secure Environment call and teaches its sender nothing (a 128-bit nonce, a fingerprint), and
 * the run's expiry bounds how long it can be tried. A failed proof the step returns as a KeptRefusal
 * (failed-proofs.ts: before the run's MAX_FAILED_PROOFS-th, review 238) leaves the run going too; any other refusal
 * (the last failed proof, or anything once the proof verified) ends the run, and `cleanup` destroys whatever keys it
 * made. Sessions expire after `timeoutSeconds`.
 *
 * Issue 11 item 4 (SER-001): a hello is unauthenticated (a Node-ID and a credential fingerprint are public), so the
 * state it creates must not be something a flood can use up. A session is *pending* until the step that checks the
 * initiator's proof marks it `authenticated`; pending sessions never refuse a new hello. Each claimed identity keeps
 * at most `maxPendingPerClaimant` of them *per peer* (`Claim.peer`, the address the hello came from) and a new hello
 * evicts the oldest of its own claimant and peer; a full table evicts the oldest pending session of anyone. So a
 * burst of hellos, however large, is forgotten as soon as it stops and the next legitimate hello always gets a
 * session. While a node runs its round trip, a flood of hellos in its name:
 * - from another address, evicts only runs begun from that address, never the node's (found in review: with the
 *   bound per identity alone, four forged hellos between a node's hello and its auth ended its run, and a steady
 *   trickle kept it from ever provisioning, from anywhere, knowing only public facts);
 * - from the node's own address (behind the same NAT; behind a reverse proxy the HTTP service is not told to trust
 *   with `trustProxy`, where every client has the proxy's address), or with no peer known (an in-process caller), can make it
 *   start again;
 * - from anywhere, can end it only by filling the whole table with pending sessions within that round trip
 *   (`maxSessions` hellos, in the names of any identities it knows: over HTTP more than the per-address rate limit
 *   lets one address send, adapters/http/protection.ts), the last resort that keeps the table bounded.
 * An attacker on the path could end any run anyway by dropping its messages. Only authenticated sessions can fill
 * the table (`too_many_sessions`), and only an authenticated peer can make one; each claimant keeps at most
 * `maxAuthenticatedPerClaimant` of them (its newest), whatever its address, so one authenticated peer that never
 * finishes its runs (a compromised device) cannot fill it for the others either.
 *
 * A run abandoned by its peer ends at its expiry, not at whatever message comes next: its owner calls `sweep` from a
 * periodic tick, which destroys its keys (found in review 87: an ephemeral private key, or a delivered PSK's copy and
 * delivery key, stayed in the Secure Environment past the timeout until some later hello). A late message of a run
 * swept so is still told `stale`, as if it had found the run, for another timeout.
 */
export class SessionTable<S extends SessionBase> {
  readonly #entries = new Map<string, Entry<S>>();
  /** Pending sessions by claimed identity and peer (`pendingKey`; insertion order = age) and by the hello's nonce. */
  readonly #pendingByClaimantAndPeer = new Map<string, Set<string>>();
  readonly #pendingNonces = new Map<string, string>();
  /** Authenticated sessions by claimed (and proved) identity, insertion order = age. */
  readonly #authenticatedByClaimant = new Map<string, Set<string>>();
  /** Runs evicted once expired, by id: until when a late message of one is told `stale` rather than `unknown_session`. */
  readonly #expired = new Map<string, number>();
  readonly #timeoutMs: number;
  readonly #maxSessions: number;
  readonly #maxPendingPerClaimant: number;
  readonly #maxAuthenticatedPerClaimant: number;
  readonly #peerKeys: (session: S) => readonly (string | undefined)[];
  readonly #cleanup: (session: S) => Promise<void>;

  constructor(options: {
    timeoutSeconds: number;
    maxSessions?: number | undefined;
    maxPendingPerClaimant?: number | undefined;
    maxAuthenticatedPerClaimant?: number | undefined;
    cleanup: (session: S) => Promise<void>;
    /** The handles of the peer credential's keys a session uses: their loss mid-run is the credential ending (key-gone.ts). */
    peerKeys?: (session: S) => readonly (string | undefined)[];
  }) {
    this.#peerKeys = options.peerKeys ?? (() => []);
    const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    const perClaimant = options.maxPendingPerClaimant ?? DEFAULT_MAX_PENDING_PER_CLAIMANT;
    if (!(options.timeoutSeconds > 0)) throw new RangeError('timeoutSeconds must be positive');
    if (!(Number.isInteger(maxSessions) && maxSessions > 0)) throw new RangeError('maxSessions must be a positive integer');
    if (!(Number.isInteger(perClaimant) && perClaimant > 0)) throw new RangeError('maxPendingPerClaimant must be a positive integer');
    const authenticatedPerClaimant = options.maxAuthenticatedPerClaimant ?? DEFAULT_MAX_AUTHENTICATED_PER_CLAIMANT;
    if (!(Number.isInteger(authenticatedPerClaimant) && authenticatedPerClaimant > 0)) {
      throw new RangeError('maxAuthenticatedPerClaimant must be a positive integer');
    }
    this.#maxAuthenticatedPerClaimant = authenticatedPerClaimant;
    this.#timeoutMs = options.timeoutSeconds * 1000;
    this.#maxSessions = maxSessions;
    this.#maxPendingPerClaimant = perClaimant;
    this.#cleanup = options.cleanup;
  }

  newId(random: RandomSource): string {
    return toBase64url(random(16));
  }

  expiry(now: Date): string {
    return new Date(now.getTime() + this.#timeoutMs).toISOString();
  }

  /** SER-012 within the session timeout: a hello whose nonce a pending run already carries is a replay. */
  assertNotPending(step: string, nonce: string): void {
    if (this.#pendingNonces.has(nonce)) throw protocolFailure(step, 'replayed_nonce');
  }

  /** Adds a pending session for `claim`; never refused for room while pending sessions can make it. */
  async add(step: string, now: Date, session: S, claim: Claim): Promise<void> {
    try {
      this.assertNotPending(step, claim.nonce);
      for (const [id, entry] of this.#entries) {
        if (entry.expiresAtMs > now.getTime()) break;
        await this.#evict(id, true);
      }
      const own = this.#pendingByClaimantAndPeer.get(pendingKey(claim));
      while (own !== undefined && own.size >= this.#maxPendingPerClaimant) await this.#evict(own.values().next().value as string);
      while (this.#entries.size >= this.#maxSessions) {
        const oldestPending = this.#oldestPending();
        if (oldestPending === undefined) {
          // A session put back after a step keeps its first expiry, so the table is not in expiry order and the sweep
          // above stops at the first live one: every expired session goes before anyone is refused (only here, where
          // the table holds authenticated sessions alone, not at every hello of a flood).
          if ((await this.#evictExpired(now)) === 0) throw protocolFailure(step, 'too_many_sessions');
          continue;
        }
        await this.#evict(oldestPending);
      }
      this.assertNotPending(step, claim.nonce); // another hello with this nonce may have arrived during a cleanup
    } catch (error) {
      await this.#cleanup(session);
      throw error;
    }
    this.#put(session.id, { session, expiresAtMs: now.getTime() + this.#timeoutMs, claim });
  }

  /**
   * Runs one step of session `id`, which must be at `stage`. `admit` checks the message against the session before
   * any proof of it is (its nonce, the fingerprint it names), synchronously, so the session never leaves the table for
   * it: a refusal there, or at the stage, leaves the run as it was. What `handle` returns (a KeptRefusal included,
   * which its caller throws) puts the run back unless it is done; any failure it throws ends the session.
   */
  async step<T>(id: string, step: string, stage: S['stage'], now: Date, handle: (session: S) => Promise<T>, admit?: (session: S) => void): Promise<T> {
    const entry = this.#entries.get(id);
    if (!entry) {
      // Told once, as the run itself would have been had the sweep left it for this message to find.
      if (this.#forgetExpired(id, now)) throw protocolFailure(step, 'stale', 'the session expired');
      throw protocolFailure(step, 'unknown_session');
    }
    const { session } = entry;
    if (entry.expiresAtMs > now.getTime()) {
      if (session.stage !== stage) throw protocolFailure(step, 'unknown_session', `session is not awaiting ${step}`);
      admit?.(session);
    }
    this.#take(id, entry);
    try {
      if (entry.expiresAtMs <= now.getTime()) throw protocolFailure(step, 'stale', 'the session expired');
      const result = await handle(session);
      if (session.done) await this.#cleanup(session);
      else {
        if (session.authenticated) await this.#makeRoomForAuthenticated(entry.claim.claimant);
        this.#put(id, entry);
      }
      return result;
    } catch (error) {
      await this.#cleanup(session);
      // Seeds 002/004 unobservability: until its proof verified, the peer is told no more of its credential than a hello.
      throw (session.authenticated ? keyGoneAt : keyGoneBeforeProof)(step, error, this.#peerKeys(session));
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Ends every run whose timeout has passed at `now`, destroying its keys (`cleanup`), without waiting for a message
   * of anyone's; how many it ended. A run being stepped is out of the table and is not touched: its step decides.
   */
  async sweep(now: Date): Promise<number> {
    for (const [id, until] of this.#expired) if (until <= now.getTime()) this.#expired.delete(id);
    return this.#evictExpired(now);
  }

  /**
   * Ends run `id` now, as a refused one ends (`cleanup` destroys its keys); whether it was in the table. A run being
   * stepped is out of it and is not touched: its step decides. A later message of the run is told `unknown_session`.
   */
  async end(id: string): Promise<boolean> {
    if (!this.#entries.has(id)) return false;
    await this.#evict(id);
    return true;
  }

  /** The claimant's oldest authenticated sessions go until one more fits under its bound. */
  async #makeRoomForAuthenticated(claimant: string): Promise<void> {
    const own = this.#authenticatedByClaimant.get(claimant);
    while (own !== undefined && own.size >= this.#maxAuthenticatedPerClaimant) await this.#evict(own.values().next().value as string);
  }

  #put(id: string, entry: Entry<S>): void {
    this.#entries.set(id, entry);
    const { claimant, nonce } = entry.claim;
    if (entry.session.authenticated) {
      let own = this.#authenticatedByClaimant.get(claimant);
      if (own === undefined) this.#authenticatedByClaimant.set(claimant, (own = new Set()));
      own.add(id);
      return;
    }
    const key = pendingKey(entry.claim);
    let own = this.#pendingByClaimantAndPeer.get(key);
    if (own === undefined) this.#pendingByClaimantAndPeer.set(key, (own = new Set()));
    own.add(id);
    this.#pendingNonces.set(nonce, id);
  }

  #take(id: string, entry: Entry<S>): void {
    this.#entries.delete(id);
    const { claimant, nonce } = entry.claim;
    for (const [byClaimant, key] of [[this.#pendingByClaimantAndPeer, pendingKey(entry.claim)], [this.#authenticatedByClaimant, claimant]] as const) {
      const own = byClaimant.get(key);
      own?.delete(id);
      if (own?.size === 0) byClaimant.delete(key);
    }
    if (this.#pendingNonces.get(nonce) === id) this.#pendingNonces.delete(nonce);
  }

  /** Evicts every expired session; how many there were. */
  async #evictExpired(now: Date): Promise<number> {
    const expired = [...this.#entries].filter(([, entry]) => entry.expiresAtMs <= now.getTime());
    for (const [id] of expired) await this.#evict(id, true);
    return expired.length;
  }

  /** Whether `id` is a run evicted once expired, within a timeout of its expiry; forgotten either way. */
  #forgetExpired(id: string, now: Date): boolean {
    const until = this.#expired.get(id);
    this.#expired.delete(id);
    return until !== undefined && until > now.getTime();
  }

  #oldestPending(): string | undefined {
    for (const [id, entry] of this.#entries) if (!entry.session.authenticated) return id;
    return undefined;
  }

  /** `expired`: the session's timeout has passed, so a late message of its run is told `stale` (#forgetExpired). */
  async #evict(id: string, expired = false): Promise<void> {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#take(id, entry);
    if (expired) {
      // Ids only, bounded as the table is: the oldest goes first.
      if (this.#expired.size >= this.#maxSessions) this.#expired.delete(this.#expired.keys().next().value as string);
      this.#expired.set(id, entry.expiresAtMs + this.#timeoutMs);
    }
    await this.#cleanup(entry.session);
  }
}
