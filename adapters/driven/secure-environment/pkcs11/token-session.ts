import type { KeyHandle } from '../../../../domain/ports/secure-environment.ts';
import { CredenceError } from '../../../../domain/errors.ts';
import { MECHANISMS, type MechanismName } from './mechanisms.ts';
import {
  ckr,
  failedIn,
  MAYBE_GONE,
  mechanismUnsupported,
  pkcs11js,
  pkcs11Problem,
  pkcs11Unavailable,
  SESSION_LOST,
  tokenStillServes,
  type Pkcs11,
  type Pkcs11Handle,
  type Pkcs11Template,
} from './module.ts';
import type { PinSupply } from './pin-source.ts';
import { acquireSharedModule, joinModule, reinitialiseModule, releaseModule, type ModuleMember } from './shared-module.ts';
import { callError, isPinRefusal, opening, pinRefusedAtRecovery, reasonOf } from './token-errors.ts';
import { logIn } from './token-login.ts';
import type { Pkcs11Uri } from './uri.ts';
import { holdsSessionObjects } from './token-objects.ts';

/**
 * Review 269: GET /readyz (unauthenticated) ran a whole recovery, C_Finalize and C_Initialize of the module, on every
 * call while the token was away; synchronous, so with a network HSM whose C_Initialize takes seconds anyone who could
 * reach /readyz stalled every request. Review 332: so did every OCSP answer and device hello (unauthenticated too),
 * since only readiness checks were held; the justification that "a caller with a token to spend is authenticated"
 * did not hold for them. Every reopen of a lost session (and so every restart of the module) now runs at most once
 * per wait, per module, whoever asks, answering the last failure in between. The wait backs off while the token stays
 * away: none after the first failed attempt (a token back by the next call, a brief failover, is found then), then
 * 5 s doubling to 60 s. A sustained outage costs at most one restart a minute, a few percent of the event loop even
 * for a restart of seconds, and a token back after a long one is found within a minute (docs/hsm.md "When the token
 * goes away"): the price of holding authenticated operations too, rather than trusting each route to say whether
 * its caller is.
 */
export const RESTART_WAIT_MS = { first: 5_000, most: 60_000 } as const;
/** The name review 269 gave it, when only readiness checks were held (pkcs11-secure-environment.ts cites it). */
export const READINESS_RESTART_WAIT_MS = RESTART_WAIT_MS;
const restartWait = (failures: number): number =>
  failures <= 1 ? 0 : Math.min(RESTART_WAIT_MS.most, RESTART_WAIT_MS.first * 2 ** (failures - 2));
/**
 * Per module path: the restarts that failed in a row, when the next one may run (performance.now), and the Secure
 * Environments whose own restarts failed in that run: only they are held to the wait (review 335: a healthy token
 * whose session failed once was held to another token's outage, up to a minute).
 */
const moduleRestarts = new Map<string, { failures: number; notBefore: number; failed: ReadonlySet<TokenSession> }>();

/**
 * The one logged-in session of a PKCS#11 Secure Environment and the calls it makes. pkcs11js calls are synchronous, so
 * one session serves every operation in turn. Every vendor error is translated (token-errors.ts): a mechanism the token
 * does not list is `mechanism_unsupported` naming it, before any call; a lost session (SESSION_LOST, or a device that
 * no longer answers) is `session_lost`, which the Secure Environment answers with one `reopen`; a message the token
 * refuses as data is the caller's (`validation`); any other CKR_* is `secure_environment_unavailable` (reason
 * `device_error` or `token_error`) naming the function and the return value (never an argument, so never key bytes or
 * a PIN). A
 * member of its shared module (shared-module.ts), so that a re-initialisation of the module for another Secure
 * Environment is coordinated with it.
 */
export class TokenSession implements ModuleMember {
  /**
   * The module as the calls of this session reach it: each C_* function entered is recorded (`#called`), so a vendor
   * error is told with the function that failed (pkcs11js sets no `method` on its errors, review 269). The module's
   * own object is kept for what is keyed by it (the login digests of module.ts) and for the checks made after a
   * failure, which must not overwrite the name of the call that failed.
   */
  readonly module: Pkcs11;
  readonly #module: Pkcs11;
  /** The last C_* function entered through `module`. */
  #called: string | undefined;
  /** The module's own key in shared-module.ts (found by real path, then device and inode): also the key of its restarts' wait. */
  readonly #moduleKey: string;
  /** The URI's selection, with the serial of the token found at open added: recovery finds that same token again. */
  #selection: Pkcs11Uri['token'];
  readonly #pin: PinSupply;
  #slot: Pkcs11Handle | undefined;
  #session: Pkcs11Handle | undefined;
  #mechanisms: ReadonlySet<number> = new Set();
  /** Counts sessions dropped: an operation that began before a recovery retries on the new session, reopening nothing. */
  #generation = 0;
  #closed = false;
  /** What this one's last restart of the module failed with: the answer while the module's wait holds the next one. */
  #lastFailure: CredenceError | undefined;

  private constructor(module: Pkcs11, moduleKey: string, uri: Pkcs11Uri, pin: PinSupply) {
    this.#module = module;
    this.module = new Proxy(module, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        if (typeof key !== 'string' || !key.startsWith('C_')) return (value as (...args: unknown[]) => unknown).bind(target);
        return (...args: unknown[]) => {
          this.#called = key;
          try {
            return (value as (...args: unknown[]) => unknown).apply(target, args);
          } catch (error) {
            // Named on the error too: a call made after it (a search's C_FindObjectsFinal) records its own name.
            throw failedIn(key, error);
          }
        };
      },
    });
    this.#moduleKey = moduleKey;
    this.#selection = uri.token;
    this.#pin = pin;
  }

  /**
   * Loads the module, finds the token, opens a session and logs in. Typed errors for a missing module file, a
   * missing token, a wrong PIN (CKR_PIN_INCORRECT); none carries the PIN. Owns `pin` from here on.
   */
  static open(uri: Pkcs11Uri, pin: PinSupply): TokenSession {
    let shared: { readonly module: Pkcs11; readonly key: string };
    try {
      shared = acquireSharedModule(uri.modulePath);
    } catch (error) {
      pin.close();
      throw error;
    }
    const token = new TokenSession(shared.module, shared.key, uri, pin);
    try {
      token.#attach();
    } catch (error) {
      pin.close();
      releaseModule(shared.key);
      throw error;
    }
    joinModule(shared.key, token);
    // A token found and logged in on the module shows it answers, as a reopen that succeeds does: the wait starts afresh.
    moduleRestarts.delete(shared.key);
    return token;
  }

  get session(): Pkcs11Handle {
    if (this.#session === undefined) throw this.lost('it was lost and could not be reopened yet');
    return this.#session;
  }

  get generation(): number {
    return this.#generation;
  }

  get label(): string {
    return this.#selection.label;
  }

  /** A new session on the token (token-login.ts); its serial added to the selection, so recovery finds that same token. */
  #attach(): void {
    const { slot, serial, session, mechanisms } = logIn(this.#module, this.#selection, this.#pin);
    this.#mechanisms = mechanisms;
    this.#slot = slot;
    this.#session = session;
    this.#selection = { ...this.#selection, serial };
  }

  /** `session_lost` (secure_environment_unavailable), naming the token (never the PIN). */
  lost(detail: string): CredenceError {
    return pkcs11Unavailable('session_lost', `the session with token "${this.#selection.label}" was lost: ${detail}`);
  }

  /** `token_unavailable` (secure_environment_unavailable) after a recovery failed: the token named, the cause given, no PIN. */
  unavailable(error: unknown, why?: unknown): CredenceError {
    const because = why === undefined ? '' : `; ${reasonOf(why)}`;
    return pkcs11Unavailable(
      'token_unavailable',
      `token "${this.#selection.label}" is unavailable: ${reasonOf(error)}${because}; a later operation tries to reopen it (at most once per wait while it stays away: docs/hsm.md)`,
    );
  }

  /**
   * Drops the lost session and opens a new one, logged in again: first as is (a closed session, a logout), then
   * after C_Finalize and C_Initialize of the module (a module finalised under us, a restarted device, a token that
   * is back), coordinated with the other Secure Environments on the module (shared-module.ts: not while one of
   * them has session objects in use; they reopen their sessions with it). Bounded: at most two attempts, no loop.
   * The restart is held to the module's wait (RESTART_WAIT_MS), whoever calls: while it holds, a Secure Environment
   * whose own restart failed answers that failure and calls nothing; another one (its session lost for a cause of
   * its own) tries a new session without the restart at each operation, even after such a try failed (review 335).
   * A PIN refused, at either attempt, sets no wait and is not held (pin-attempts.ts keeps it from the token), so a
   * mended PIN file serves at the next call.
   * Throws `token_unavailable` naming both causes, or the PIN's own refusal: either is secure_environment_unavailable
   * (a login refused now is the operator's to mend, never the caller's).
   */
  reopen(): void {
    if (this.#closed) throw pkcs11Problem('session', 'open', 'this PKCS#11 Secure Environment is closed');
    const now = performance.now();
    const restarts = moduleRestarts.get(this.#moduleKey);
    const held = restarts !== undefined && now < restarts.notBefore;
    // Held (review 332): nothing is called on the module; the session, already lost, stays so for a later call. Only
    // the Secure Environments whose own restarts set the wait: another token's outage says nothing of this one's.
    if (held && restarts.failed.has(this) && this.#lastFailure !== undefined) throw this.#lastFailure;
    this.#dropSession();
    let first: unknown;
    try {
      this.#attach();
      this.#recovered(false);
      return;
    } catch (error) {
      if (isPinRefusal(error)) {
        // The token answers: what is said now is the PIN's refusal, not an earlier failure to find it.
        this.#lastFailure = undefined;
        throw pinRefusedAtRecovery(error, this.#selection.label);
      }
      first = error;
    }
    // Not kept as this one's last failure: its next operation tries a new session again (a failover over by then).
    if (held) {
      throw this.unavailable(first, new Error('its module was not restarted for it: a restart for another token on the module failed moments ago, and the next waits (docs/hsm.md)'));
    }
    try {
      this.#restartAndAttach(first);
      this.#recovered(true);
    } catch (error) {
      if (isPinRefusal(error)) {
        // The module restarted and the token answered: as at the first attempt, the PIN's refusal is not held.
        this.#recovered(true);
        throw pinRefusedAtRecovery(error, this.#selection.label);
      }
      this.#lastFailure = error instanceof CredenceError ? error : this.unavailable(first, error);
      const failures = (restarts?.failures ?? 0) + 1;
      const failed = new Set(restarts?.failed).add(this);
      moduleRestarts.set(this.#moduleKey, { failures, notBefore: now + restartWait(failures), failed });
      throw this.#lastFailure;
    }
  }

  /**
   * Runs a readiness check (Pkcs11SecureEnvironment `unavailable`, GET /readyz). A lost session is reopened only as
   * the module's wait allows, as for every other caller now (RESTART_WAIT_MS); kept as the frame that tells a
   * readiness check's restarts from an operation's.
   */
  checkingReadiness<T>(check: () => T): T {
    return check();
  }

  /**
   * A session serves again: what this one last failed with is forgotten, and the module's wait with it when the
   * module was restarted or this one's own failed restart set it. Another Secure Environment's session reopened as is
   * says nothing of the token that is away: its wait stays.
   */
  #recovered(restarted: boolean): void {
    if (restarted || moduleRestarts.get(this.#moduleKey)?.failed.has(this) === true) moduleRestarts.delete(this.#moduleKey);
    this.#lastFailure = undefined;
  }

  /** Closes what is left of the current session (if anything) and counts a new generation. */
  #dropSession(): void {
    const old = this.#session;
    this.#session = undefined;
    this.#generation += 1;
    if (old !== undefined) {
      try {
        this.#module.C_CloseSession(old);
      } catch {
        // Already gone with the device or the module: "close what is left" found nothing left.
      }
    }
  }

  /** The second attempt of `reopen`: C_Finalize and C_Initialize of the module, then a new session. */
  #restartAndAttach(first: unknown): void {
    try {
      opening('C_Initialize', () => reinitialiseModule(this.#moduleKey, this));
    } catch (error) {
      throw this.unavailable(first, error);
    }
    try {
      this.#attach();
    } catch (error) {
      if (isPinRefusal(error)) throw error;
      throw this.unavailable(error);
    }
  }

  /** ModuleMember: the session is open, logged in, on the token still there under its label. */
  serving(): boolean {
    const session = this.#session;
    return !this.#closed && session !== undefined && this.#serves(session);
  }

  /**
   * ModuleMember: this process has session objects in use on the token (seen from this session). A search that fails
   * answers "nothing held" only when the session is lost (SESSION_LOST, or MAYBE_GONE from a session that no longer
   * serves): its session objects went with it. Any other failure (a passing device fault, CKR_DEVICE_ERROR or
   * CKR_FUNCTION_FAILED, or an error with no CKR_* code) answers "held", so the module is not re-initialised under a
   * handshake in progress (`module_in_use`): review 413 F1, since review 407 reads C_FindObjects' plain-Error failures,
   * every such fault had let C_Finalize destroy another Secure Environment's ephemeral key and ECDH secret.
   */
  holdsSessionObjects(): boolean {
    const session = this.#session;
    if (this.#closed || session === undefined) return false;
    try {
      return holdsSessionObjects(this.#module, session);
    } catch (error) {
      const code = ckr(error);
      if (code !== undefined && SESSION_LOST.has(code)) return false;
      if (code !== undefined && MAYBE_GONE.has(code)) return this.#servesOrUnknown(session);
      return true;
    }
  }

  /** `#serves`, with a check that itself fails unreadably taken as serving (fail safe: nothing is reset on it). */
  #servesOrUnknown(session: Pkcs11Handle): boolean {
    try {
      return this.#serves(session);
    } catch {
      return true;
    }
  }

  /**
   * ModuleMember: the module was re-initialised for another Secure Environment, so this session is gone. A new one
   * is opened now (token found again by label and serial, PIN read again); if that fails, the next operation meets
   * a lost session and recovers (or reports) as for any other loss.
   */
  reattach(): void {
    if (this.#closed) return;
    this.#session = undefined;
    this.#generation += 1;
    try {
      this.#attach();
      this.#lastFailure = undefined;
    } catch {
      // Left lost: this Secure Environment's own next operation reopens it, or reports why it cannot.
    }
  }

  /** Throws `session_lost` unless the token is still there and this session still logged in (a key not found is then really absent). */
  confirmServing(): void {
    if (this.#slot === undefined || !tokenStillServes(this.#module, this.#slot, this.session, this.#selection)) {
      throw this.lost('the token no longer answers for it, or it is no longer logged in');
    }
  }

  /**
   * Runs PKCS#11 calls, translating vendor errors into ours. `creating`: the template of the object the calls make,
   * so that a token refusing it is told apart (its label's length named: some tokens limit CKA_LABEL).
   */
  run<T>(work: () => T, creating?: Pkcs11Template): T {
    if (this.#closed) throw pkcs11Problem('session', 'open', 'this PKCS#11 Secure Environment is closed');
    const session = this.session;
    this.#called = undefined;
    try {
      return work();
    } catch (error) {
      const called = this.#called;
      throw callError(error, creating, () => this.#serves(session), (detail) => this.lost(detail), called);
    }
  }

  #serves(session: Pkcs11Handle): boolean {
    return this.#slot !== undefined && tokenStillServes(this.#module, this.#slot, session, this.#selection);
  }

  mechanism(name: MechanismName): number {
    const value = MECHANISMS[name];
    if (!this.#mechanisms.has(value)) throw mechanismUnsupported(name, 'this token does not offer it (C_GetMechanismList)');
    return value;
  }

  sign(name: 'CKM_EDDSA' | 'CKM_ECDSA' | 'CKM_SHA256_HMAC', key: Pkcs11Handle, data: Uint8Array, length: number): Uint8Array {
    const mechanism = this.mechanism(name);
    // pkcs11js hands an empty buffer to the module as a NULL pointer, which SoftHSM2 refuses (CKR_ARGUMENTS_BAD)
    // and which leaves the operation active. An HMAC of nothing is C_SignInit then C_SignFinal (multi-part with no
    // part); CKM_EDDSA is single-part only, so an empty message to sign is refused here, naming the argument.
    if (data.length === 0 && name !== 'CKM_SHA256_HMAC') throw new TypeError(`message: ${name} through PKCS#11 cannot take an empty message`);
    return this.run(() => {
      this.module.C_SignInit(this.session, { mechanism }, key);
      if (data.length === 0) return new Uint8Array(this.module.C_SignFinal(this.session, Buffer.alloc(length)));
      return new Uint8Array(this.module.C_Sign(this.session, Buffer.from(data), Buffer.alloc(length)));
    });
  }

  /** C_Verify; a tag that does not match is false, not an error. */
  verify(name: 'CKM_SHA256_HMAC', key: Pkcs11Handle, data: Uint8Array, tag: Uint8Array): boolean {
    const mechanism = this.mechanism(name);
    return this.run(() => {
      this.module.C_VerifyInit(this.session, { mechanism }, key);
      try {
        // An empty message: multi-part with no part (see sign).
        if (data.length === 0) return this.module.C_VerifyFinal(this.session, Buffer.from(tag));
        return this.module.C_Verify(this.session, Buffer.from(data), Buffer.from(tag));
      } catch (error) {
        const code = ckr(error);
        if (code === 'CKR_SIGNATURE_INVALID' || code === 'CKR_SIGNATURE_LEN_RANGE') return false;
        throw error;
      }
    });
  }

  /** True when `object` still exists in this session and still has CKA_ID `handle`. */
  stillHolds(object: Pkcs11Handle, handle: KeyHandle): boolean {
    try {
      const [id] = this.module.C_GetAttributeValue(this.session, object, [{ type: pkcs11js.CKA_ID }]);
      return Buffer.isBuffer(id?.value) && id.value.toString('utf8') === handle;
    } catch (error) {
      if (ckr(error) === 'CKR_OBJECT_HANDLE_INVALID') return false;
      throw error;
    }
  }

  /** C_DestroyObject on each; returns how many this call destroyed (one destroyed meanwhile by another process is skipped: gone either way). */
  destroy(objects: readonly Pkcs11Handle[]): number {
    return this.run(() => {
      let destroyed = 0;
      for (const object of objects) {
        try {
          this.module.C_DestroyObject(this.session, object);
          destroyed += 1;
        } catch (error) {
          if (ckr(error) !== 'CKR_OBJECT_HANDLE_INVALID' || !this.#serves(this.session)) throw error;
        }
      }
      return destroyed;
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pin.close();
    const session = this.#session;
    this.#session = undefined;
    try {
      if (session !== undefined) this.#module.C_CloseSession(session);
    } catch (error) {
      // A session already lost (the device went away) has nothing left to close; anything else is reported.
      const code = ckr(error);
      if (code === undefined || !(SESSION_LOST.has(code) || MAYBE_GONE.has(code))) throw error;
    } finally {
      releaseModule(this.#moduleKey, this);
    }
  }
}
