/**
 * Expected failures are values with a `code`, a place (field path, state, stream) and a message a person can
 * act on. They are thrown as `CredenceError` at the engine boundary so callers can `catch` or inspect `.problem`.
 * Messages never carry secret material: only identifiers, states, rule names and field paths.
 */

export interface FieldIssue {
  readonly path: string;
  readonly rule: string;
  readonly message: string;
}

export type Problem =
  | { readonly code: 'validation'; readonly message: string; readonly issues: readonly FieldIssue[] }
  | {
      readonly code: 'illegal_transition';
      readonly message: string;
      readonly streamId: string;
      readonly state: string;
      readonly attempted: string;
      readonly allowed: readonly string[];
      /** The machine guard (rule) that refused, when a transition exists but its guard failed. */
      readonly rule?: string;
    }
  | {
      readonly code: 'concurrency_conflict';
      readonly message: string;
      readonly streamId: string;
      readonly expected: string;
      readonly actual: string;
    }
  | { readonly code: 'not_found'; readonly message: string; readonly streamId: string }
  | { readonly code: 'unauthorised'; readonly message: string; readonly actor: string; readonly reason: string }
  | { readonly code: 'bad_signature'; readonly message: string; readonly reason: string }
  | { readonly code: 'protocol'; readonly message: string; readonly step: string; readonly reason: string }
  /**
   * A stored event that its entity's machine refuses or that cannot be read: the command could not be decided on
   * that entity (or on a fact it needed). Not the caller's fault; `credence replay` locates it.
   */
  | { readonly code: 'broken_history'; readonly message: string; readonly streamId: string; readonly position: string; readonly reason: string }
  /**
   * The event store could not take the command's events now, and stored none of them: another process holds its
   * write lock (`busy`), the disk or the store's size limit has no room for them (`full`), or the store was closed (the
   * service stopping) while the command was decided (`closed`). Not the caller's fault,
   * and safe to retry: the same command id is stored at most once.
   */
  | { readonly code: 'store_unavailable'; readonly message: string; readonly reason: StoreUnavailableReason }
  /**
   * A stream asked to resume strictly after a position that is no place in this log: past its newest event (`head`,
   * absent when the log holds none), or on a store that is not gapless one that is no event's own (an id of another
   * log, a store restored from an older backup, a position never handed out). Resuming there would skip every event up
   * to it without a word, and a pseudonymised stream would fold identities only to the head (SER-011). GET /v1/events
   * and the library's streams refuse it alike (review 206).
   */
  | { readonly code: 'resume_point_not_in_log'; readonly message: string; readonly resumeAfter: string; readonly head?: string }
  /**
   * A database file of the data folder SQLite finds damaged (SQLITE_CORRUPT, SQLITE_NOTADB: truncated, overwritten,
   * a -wal of another file replayed over it). Not the caller's fault, and no retry helps: what mends it depends on the
   * file (`remedy`), and only its operator can do it. `path` is where the file is, `file` its name in the folder. Where
   * SQLite's error named no file and none was found damaged, `candidates` names the files of the folder to check,
   * `path` is the folder and `file` is `unknown`.
   */
  | {
      readonly code: 'damaged_database';
      readonly message: string;
      readonly file: string;
      readonly path: string;
      readonly remedy: string;
      readonly candidates?: readonly string[];
    }
  /**
   * The Secure Environment that holds the service's keys cannot be used now: its token is gone or does not answer,
   * its session was lost and could not be opened again, its PIN is locked or refused at the new login. Not the
   * caller's fault, and nothing the operation needed was done in it: a retry succeeds once the token is back (its
   * operator may have to act). `reason` is the rule (`token_unavailable`, `session_lost`, `pin_locked`,
   * `device_error`, ...), `returnValue` the PKCS#11 CKR_* name when one was answered; never a PIN or key material.
   */
  | { readonly code: 'secure_environment_unavailable'; readonly message: string; readonly reason: string; readonly returnValue?: string }
  /**
   * The Secure Environment that holds the service's keys cannot do what the operation needs: its token does not offer
   * a mechanism (`mechanism_unsupported`, `mechanism` naming it when known) or will not make a key from its template
   * (`template_refused`, e.g. a label longer than it allows). This deployment's configuration, not the caller's input,
   * and not passing: a retry fails the same way until its operator acts (another token, `x-derivation=host`:
   * docs/hsm.md). Nothing the operation needed was done in it. Never a PIN, a token label or key material.
   */
  | {
      readonly code: 'secure_environment_unsupported';
      readonly message: string;
      readonly reason: SecureEnvironmentUnsupportedReason;
      readonly mechanism?: string;
      readonly returnValue?: string;
    };

/** What a Secure Environment cannot do: see the `secure_environment_unsupported` problem. */
export type SecureEnvironmentUnsupportedReason = 'mechanism_unsupported' | 'template_refused';

/** Why the event store could not take a write: see the `store_unavailable` problem. */
export type StoreUnavailableReason = 'busy' | 'full' | 'closed';

export type ProblemCode = Problem['code'];

export class CredenceError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.message);
    this.name = 'CredenceError';
    this.problem = problem;
  }
  get code(): ProblemCode {
    return this.problem.code;
  }
}

export const isCredenceError = (error: unknown, code?: ProblemCode): error is CredenceError =>
  error instanceof CredenceError && (code === undefined || error.problem.code === code);

/**
 * True when a command was refused because its id had already been used for a different command. A reaction
 * with a derived id sees this when it is replayed after its effect was recorded under that id: already done.
 */
export const isCommandIdReused = (error: unknown): boolean =>
  isCredenceError(error, 'validation') &&
  error.problem.code === 'validation' &&
  // A command id bound by a refused attempt (EventStoreDB; review 401) is taken as one reused: the reactions settle it so.
  error.problem.issues.some((i) => i.path === 'metadata.commandId' && (i.rule === 'idempotency' || i.rule === 'command_id_bound_by_refused_attempt'));

/** How many issues one refusal lists; the rest are counted in one more, of this rule. */
export const MAX_ISSUES_LISTED = 16;
const MORE_ISSUES = 'more_issues';

/**
 * The first `MAX_ISSUES_LISTED` issues, and one that counts the rest (rule `more_issues`). Found in review: a device
 * message of 4,000 unknown members (within the JSON value bound) came back as 4,000 issues, each in `errors` and again
 * in the message: a 43 KB body answered with 435 KB, 41 ms of work, without a token. The first issues say what is
 * wrong; a client fixes those and hears of the next.
 */
export const boundedIssues = (issues: readonly FieldIssue[]): readonly FieldIssue[] => {
  // Issues bounded before (a refusal wrapped again, its paths renamed) carry the count of those left out.
  const listed = issues.filter((i) => i.rule !== MORE_ISSUES);
  const unlisted = issues.reduce((n, i) => n + (i.rule === MORE_ISSUES ? (Number.parseInt(i.message, 10) || 0) : 0), 0);
  const more = unlisted + Math.max(0, listed.length - MAX_ISSUES_LISTED);
  if (more === 0) return listed.length === issues.length ? issues : listed;
  return [...listed.slice(0, MAX_ISSUES_LISTED), { path: '', rule: MORE_ISSUES, message: `${more} more issues not listed` }];
};

export const validationError = (all: readonly FieldIssue[], subject = 'input'): CredenceError => {
  const issues = boundedIssues(all);
  return new CredenceError({
    code: 'validation',
    issues,
    message: `invalid ${subject}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
  });
};

export const concurrencyConflict = (streamId: string, expected: string, actual: string): CredenceError =>
  new CredenceError({
    code: 'concurrency_conflict',
    streamId,
    expected,
    actual,
    message: `stream ${streamId} was expected at ${expected} but is at ${actual}`,
  });

export const notFound = (streamId: string, what = 'entity'): CredenceError =>
  new CredenceError({ code: 'not_found', streamId, message: `${what} ${streamId} does not exist` });

/** A key handle no Secure Environment holds (never made, or destroyed: the shredder's work when its entity ended). */
export const keyNotFound = (handle: string): CredenceError => notFound(handle, 'key');
/** Whether `error` says a key is not held; with `handle`, that key and no other (a failure about another key is not it). */
export const isKeyNotFound = (error: unknown, handle?: string): boolean =>
  isCredenceError(error, 'not_found') &&
  error.problem.code === 'not_found' &&
  error.message === keyNotFound(error.problem.streamId).message &&
  (handle === undefined || error.problem.streamId === handle);

export const unauthorised = (actor: string, reason: string): CredenceError =>
  new CredenceError({ code: 'unauthorised', actor, reason, message: `${actor} is not allowed: ${reason}` });

export const badSignature = (reason: string): CredenceError =>
  new CredenceError({ code: 'bad_signature', reason, message: `request signature rejected: ${reason}` });

/** `detail` names the store's own refusal (an SQLite result code and its fixed message), never the events' content. */
export const storeUnavailable = (reason: StoreUnavailableReason, detail: string): CredenceError =>
  new CredenceError({
    code: 'store_unavailable',
    reason,
    message:
      (reason === 'busy'
        ? `the event store is busy: another process holds its write lock (${detail})`
        : reason === 'full'
          ? `the event store is full: it has no room for these events (${detail})`
          : `the event store is closed: ${detail}`) +
      '; nothing was stored, retry the command with the same command id',
  });

/** See the `secure_environment_unavailable` problem; `message` names the Secure Environment and the cause. */
export const secureEnvironmentUnavailable = (reason: string, message: string, returnValue?: string): CredenceError =>
  new CredenceError({ code: 'secure_environment_unavailable', reason, message, ...(returnValue !== undefined ? { returnValue } : {}) });

/** See the `secure_environment_unsupported` problem; `message` names what was refused and why, never a token's label. */
export const secureEnvironmentUnsupported = (
  reason: SecureEnvironmentUnsupportedReason,
  message: string,
  named: { readonly mechanism?: string | undefined; readonly returnValue?: string | undefined } = {},
): CredenceError =>
  new CredenceError({
    code: 'secure_environment_unsupported',
    reason,
    message,
    ...(named.mechanism !== undefined ? { mechanism: named.mechanism } : {}),
    ...(named.returnValue !== undefined ? { returnValue: named.returnValue } : {}),
  });

/** `detail` is SQLite's own result code and fixed message; `remedy` says what mends this file (adapters know which). */
export const damagedDatabase = (path: string, file: string, detail: string, remedy: string): CredenceError =>
  new CredenceError({ code: 'damaged_database', file, path, remedy, message: `the database ${path} is damaged (${detail}): ${remedy}` });

export const protocolError = (step: string, reason: string): CredenceError =>
  new CredenceError({ code: 'protocol', step, reason, message: `${step} rejected: ${reason}` });

/**
 * A refused event in words a person can act on: the rule that refused it, or what the state allows instead. The
 * engine's `illegal_transition` errors and replay's findings both use it.
 */
export const describeRefusal = (
  attempted: string,
  verdict: { readonly state: string; readonly allowed: readonly string[]; readonly rule?: string; readonly because?: string },
): string =>
  verdict.rule !== undefined
    ? `${attempted} refused in state ${verdict.state} by rule ${verdict.rule}${verdict.because !== undefined ? `: ${verdict.because}` : ''}`
    : `${attempted} is not allowed in state ${verdict.state}` +
      (verdict.allowed.length ? ` (allowed: ${verdict.allowed.join(', ')})` : ' (final state: it accepts nothing)') +
      // What a final state finds standing (machines/evaluate.ts FINAL_STATE_REASONS; review 197 F2).
      (verdict.because !== undefined ? `: ${verdict.because}` : '');

export const illegalTransition = (args: {
  streamId: string;
  state: string;
  attempted: string;
  allowed: readonly string[];
  rule?: string;
  /** Why the rule refused, said in the message only: the problem's members stay the machine's verdict. */
  because?: string;
}): CredenceError =>
  new CredenceError({
    code: 'illegal_transition',
    streamId: args.streamId,
    state: args.state,
    attempted: args.attempted,
    allowed: args.allowed,
    ...(args.rule !== undefined ? { rule: args.rule } : {}),
    message: `${args.streamId}: ${describeRefusal(args.attempted, args)}`,
  });
