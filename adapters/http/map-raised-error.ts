import { STATUS_CODES } from 'node:http';
import type { FastifyError } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { boundedIssues, CredenceError, isKeyNotFound, type FieldIssue, type Problem, type StoreUnavailableReason } from '../../domain/errors.ts';
import { TransparencyLogForked, TransparencyLogOfAnotherLog } from '../../projections/transparency/index.ts';
import { TransparencyLogAltered } from '../../domain/ports/transparency-log.ts';
import { LockHeldElsewhere } from '../runtime/live-failure.ts';
import { damagedDatabaseOf } from '../runtime/damaged-database.ts';
import { EventsDbReplaced } from '../runtime/events-db-replaced.ts';
import { GroupCommitError, storeUnavailableOf, type StoreUnavailable } from '../runtime/store-unreachable.ts';

/*
 * What every error but the HTTP layer's own refusals (HttpProblem, problems.ts) is answered with: the engine's
 * refusals, a key or database the service lost, an event store that is unavailable, and Fastify's own errors. The table
 * of statuses heads problems.ts, which sends the answer as problem+json.
 */

export interface Mapped {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly extensions?: Readonly<Record<string, unknown>>;
  readonly headers?: Readonly<Record<string, string>>;
}

const STATUS_OF: Record<Problem['code'], number> = {
  validation: 400,
  unauthorised: 403,
  not_found: 404,
  illegal_transition: 409,
  concurrency_conflict: 409,
  resume_point_not_in_log: 409,
  bad_signature: 422,
  protocol: 422,
  broken_history: 500,
  store_unavailable: 503,
  damaged_database: 503,
  secure_environment_unavailable: 503,
  secure_environment_unsupported: 500,
};

/**
 * Retry-After of a `secure_environment_unavailable`: a token that went away, a lost session or a device fault may be
 * back at the next attempt; a PIN refused at a new login waits for its operator. Not the time left in the module's
 * restart wait (docs/hsm.md, up to 60 s), which the error does not carry: an attempt the wait holds is answered at
 * once without calling the module, so retrying early costs the service nothing, and a token back is found at the
 * first attempt after the wait.
 */
const secureEnvironmentRetryAfter = (reason: string): number => (reason.startsWith('pin_') ? 60 : 5);

/**
 * Retry-After of a `store_unavailable`: the write lock another process holds is for one transaction, already waited
 * for `busyTimeoutMs`; room on a full disk is made by an operator; a store closed is a service stopping, which a
 * restart or another instance answers in seconds.
 */
const STORE_RETRY_AFTER_SECONDS: Record<StoreUnavailableReason, number> = { busy: 1, full: 60, closed: 5 };
/** Refused credentials or permissions (review 386): mended by an operator, as a full disk is; a retry in seconds loops. */
const STORE_UNAUTHORISED_RETRY_AFTER_SECONDS = 60;
/** An external event store that did not answer: its deadline is 10 s by default, a client waits half that. */
const STORE_UNREACHABLE_RETRY_AFTER_SECONDS = 5;
const STORE_RETRY_ADVICE =
  'a command sent may have been stored, so retry it with the commandId it was sent with (stored once at most), or read its entity before sending it anew';
/**
 * A command the store failed before any write of it went out (its decision-time reads: the adapter gives those the
 * appendOutcome `nothing_written`, read as `nothingWritten`, never from the message's words; review 386): nothing was
 * stored, and its id still makes sending it again safe.
 */
const STORE_NOTHING_STORED_ADVICE = 'nothing was stored, so retry it with the commandId it was sent with after Retry-After';
/** A read stores nothing: a command's advice meant nothing to it (review 199). */
const STORE_READ_RETRY_ADVICE = 'send the read again after Retry-After';
/**
 * A device's protocol step sends no command id (the service builds the commands it records, under ids of its own), so
 * a command's advice means nothing to it (review 202). Its run, sent again, is decided against what was recorded: the
 * device keeps its key meanwhile (docs/service.md, Remote provisioning).
 */
const DEVICE_STEP_RETRY_ADVICE = "the step may have been recorded: run the device's provisioning or association again after Retry-After";

/**
 * What a request that met an unavailable store is: a command (it may have been stored), a read (GET, HEAD), or a
 * device's protocol step (the Enrolment Function's and the Registrar CSE's routes: no command id of its own).
 */
export type RequestKind = 'command' | 'read' | 'device-step';

/** The methods that only read (RFC 9110 9.2.1 safe methods the service serves). */
const READS: ReadonlySet<string> = new Set(['GET', 'HEAD']);
const DEVICE_STEP_ROUTES = /^\/v1\/(enrolment|registrar)\//;

/** What a request of `method` to the route `route` (its pattern, as registered) is when the store was unavailable to it. */
export const requestKindOf = (method: string, route?: string): RequestKind =>
  READS.has(method) ? 'read' : route !== undefined && DEVICE_STEP_ROUTES.test(route) ? 'device-step' : 'command';

/** What a request of `kind` is told to do about a store that may have stored it. */
const retryAdvice = (kind: RequestKind): string =>
  kind === 'read' ? STORE_READ_RETRY_ADVICE : kind === 'device-step' ? DEVICE_STEP_RETRY_ADVICE : STORE_RETRY_ADVICE;
/** An embedded store's commit that failed (an I/O error): the disk may be back at once, or only once its operator acts. */
const COMMIT_FAILED_RETRY_AFTER_SECONDS = 5;

/**
 * The embedded store's group commit failed as a whole (review 184 L4: it was a 500 `internal`, so a client never
 * learnt that a retry is safe). At the WAL's sync its frames may be in the WAL, which recovery replays: whether the
 * command was stored is unknown, as after an EventStoreDB timeout. SQLite's words stay in the log.
 */
const commitFailed = (kind: RequestKind): Mapped => ({
  status: 503,
  code: 'store_unavailable',
  detail: `the event store could not commit the write, so whether it was stored is unknown (the service's log says why): ${retryAdvice(kind)}`,
  extensions: { reason: 'commit_failed' },
  headers: { 'retry-after': String(COMMIT_FAILED_RETRY_AFTER_SECONDS) },
});

/** What happened to an external event store, in words for the caller; no host of it (the log has them). */
const storeUnavailableCause = (unavailable: StoreUnavailable): string => {
  switch (unavailable.reason) {
    case 'unreachable':
      return 'the event store could not be reached or its connection was lost';
    case 'timeout':
      return `the event store did not answer within its time limit of ${unavailable.limitMs} ms`;
    case 'not_leader':
      return "the event store's node is not its cluster's leader (the next call goes to the leader)";
    case 'unauthorised':
      // Never the user's name or the password: the service's log has the server's words and the call.
      return "the event store refused this service's credentials or permissions: its operator must mend them (the service's log says which call)";
  }
};

/** Why an embedded store refused a whole append, without SQLite's words (the log has them): for a device step. */
const STORE_REFUSAL: Record<StoreUnavailableReason, string> = {
  busy: 'the event store is busy: another process holds its write lock',
  full: 'the event store is full: it has no room for these events',
  closed: 'the event store is closed: the service is stopping',
};

const fromCredenceError = (problem: Problem, kind: RequestKind): Mapped => {
  const { code, message, ...rest } = problem;
  if (problem.code === 'validation') return { status: 400, code, detail: message, extensions: { errors: problem.issues } };
  // Nothing was stored and the command id makes a retry safe: say when to retry. A device's step has no command id.
  if (problem.code === 'store_unavailable') {
    const detail = kind === 'device-step' ? `${STORE_REFUSAL[problem.reason]}; nothing was stored: run the device's step again after Retry-After` : message;
    return { status: 503, code, detail, extensions: rest, headers: { 'retry-after': String(STORE_RETRY_AFTER_SECONDS[problem.reason]) } };
  }
  // Not the caller's request (review 144: it was a 400 `validation` naming `body.token`): the reason and the PKCS#11
  // return value, never the token's label (in the message, which the log has).
  if (problem.code === 'secure_environment_unavailable') {
    const { reason, returnValue } = problem;
    const answered = returnValue !== undefined ? `, ${returnValue}` : '';
    return {
      status: 503,
      code,
      detail:
        `the service's Secure Environment cannot be used now (${reason}${answered}): ` +
        (kind === 'device-step' ? "run the device's step again later" : 'retry later, a command with the same commandId (it is stored at most once)') +
        "; its operator may have to act (the service's log says why)",
      extensions: { reason, ...(returnValue !== undefined ? { returnValue } : {}) },
      headers: { 'retry-after': String(secureEnvironmentRetryAfter(reason)) },
    };
  }
  // This deployment's token cannot do what the request needs, now or at a retry: a 500 for the operator (the log has
  // the whole message), not a 400 blaming the caller, nor a 503 inviting retries that fail alike.
  if (problem.code === 'secure_environment_unsupported') {
    const { reason, mechanism, returnValue } = problem;
    const named = [mechanism, returnValue].filter((n) => n !== undefined).join(', ');
    return {
      status: 500,
      code,
      detail:
        `the service's Secure Environment cannot do what this request needs (${reason}${named !== '' ? `: ${named}` : ''}): ` +
        "a retry fails alike until its operator configures it (the service's log says why)",
      extensions: { reason, ...(mechanism !== undefined ? { mechanism } : {}), ...(returnValue !== undefined ? { returnValue } : {}) },
    };
  }
  // What mends the file is the operator's to do, and the log says it with the file's path; the caller learns which
  // file.
  if (problem.code === 'damaged_database') {
    return { status: 503, code, detail: `the service's database ${problem.file} is damaged: its operator must mend it (the service's log says how)`, extensions: { file: problem.file } };
  }
  // `actor` of an unauthorised problem is the caller's own id; the rest are identifiers, states and rule names.
  return { status: STATUS_OF[code], code, detail: message, extensions: rest };
};

/**
 * A command refused while the transparency log has stopped over a restored event store (commands-wait-for-the-log.ts):
 * no Retry-After, it waits for the operator. No `reason`: the refusal's positions and leaf hashes are for the operator
 * (the service's log, GET /v1/projections); a device sends commands through its protocol routes, and a position
 * told to a stranger shows the log grow (review 50).
 */
const commandsWaitForTheLog: Mapped = {
  status: 503,
  code: 'transparency_log_of_another_log',
  detail:
    'the service takes no command for now: its transparency log holds events its event store does not (restored from an older backup), ' +
    "and what it would store now could be dropped by the restore that mends it; its operator must act (the service's log says how)",
};

/**
 * A command refused once the service's events.db was moved or replaced under it (events-db-replaced.ts): no
 * Retry-After, no retry mends it; its operator stops the service and starts it on the restored file. No path: the
 * service's log names it.
 */
const commandsRefusedOnceEventsDbReplaced: Mapped = {
  status: 503,
  code: 'events_db_replaced',
  detail:
    "the service takes no command: the event store file in its data folder (events.db) was moved or replaced while it runs, and what it " +
    'stored now would go to the file moved aside, not to the one in place; the service must be stopped before a restore, then started ' +
    "(the service's log says more)",
};

/**
 * A proof or evidence bundle asked while the transparency log is stopped over a file changed under the service (its
 * newest leaf's row relabelled: newest-leaf.ts): no retry mends it, its operator must (the service's log and /readyz
 * say so). The finding itself, naming streams and positions, stays in the log: the caller may be told no more.
 */
const logAltered: Mapped = {
  status: 503,
  code: 'transparency_log_altered',
  detail: "the transparency log file was altered under the service, which logs nothing more until its operator acts (the service's log says how)",
};

const PART: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/** Fastify's schema errors (zod issues, through fastify-type-provider-zod) as field issues naming the request part. */
const schemaIssues = (error: FastifyError): readonly FieldIssue[] => {
  const part = PART[(error as { validationContext?: string }).validationContext ?? 'body'] ?? 'body';
  const issues = (error.validation ?? []).flatMap((v) => {
    const segments = v.instancePath.split('/').filter((s) => s.length > 0);
    const path = [part, ...segments].join('.');
    const { keys, params } = v.params as { keys?: unknown; params?: { rule?: unknown } };
    if (v.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
      return keys.map((k) => ({ path: `${path}.${String(k).slice(0, 64)}`, rule: 'unrecognized_key', message: 'not allowed here' }));
    }
    // A refinement may name its rule (`refine(check, { params: { rule } })`, e.g. reserved_subject): more use than
    // `custom`.
    const rule = v.keyword === 'custom' && typeof params?.rule === 'string' ? params.rule : v.keyword;
    return [{ path, rule, message: v.message ?? 'invalid' }];
  });
  return boundedIssues(issues);
};

/**
 * A path the file server behind the API explorer's and the console's files will not read (one climbing out of its
 * folder, one holding a NUL) is a path with no file, as a missing file already is (the file server calls the
 * not-found handler): `route_not_found`, which says nothing of the folders around. Review 219: it was a `403` of code
 * `http_403`, which no document named.
 */
const NO_FILE: Omit<Mapped, 'headers'> = { status: 404, code: 'route_not_found', detail: 'no file the service serves has this path' };

const FASTIFY_CODES: Record<string, Omit<Mapped, 'extensions'>> = {
  // The file server of @fastify/swagger-ui (its own @fastify/static) refuses such a path with this error of its own.
  FST_STATIC_FORBIDDEN_PATH: NO_FILE,
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', detail: 'the request body is larger than the service accepts' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', detail: 'send application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'validation', detail: 'the Content-Length does not match the body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'validation', detail: 'the JSON body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'validation', detail: 'the body is not valid JSON' },
};

/**
 * The refusals of @fastify/send, the file server's own sender, by status: http-errors objects (a `status` and
 * `expose`, which Fastify's errors lack). A path it will not read (400, 403) as NO_FILE; a conditional or ranged GET it
 * cannot meet keeps its status (RFC 9110 13.1.1, 14.2), with a code of its own.
 */
const FILE_REFUSALS: Readonly<Record<number, Omit<Mapped, 'headers'>>> = {
  400: NO_FILE,
  403: NO_FILE,
  404: NO_FILE,
  412: { status: 412, code: 'precondition_failed', detail: 'the file does not meet the If-Match or If-Unmodified-Since sent' },
  416: { status: 416, code: 'range_not_satisfiable', detail: 'the Range asked for lies past the end of the file (its length is in Content-Range)' },
};

/** A refusal of the file server (FILE_REFUSALS), with the headers it gives (a 416's Content-Range, RFC 9110 15.5.17). */
const fileRefusalOf = (error: unknown): Mapped | undefined => {
  const e = error as { status?: unknown; expose?: unknown; headers?: unknown };
  if (typeof e?.status !== 'number' || typeof e.expose !== 'boolean') return undefined;
  const mapped = FILE_REFUSALS[e.status];
  if (mapped === undefined) return undefined;
  const range = typeof e.headers === 'object' && e.headers !== null ? (e.headers as Record<string, unknown>)['Content-Range'] : undefined;
  return typeof range === 'string' && mapped.status === 416 ? { ...mapped, headers: { 'content-range': range } } : mapped;
};

/** Why the log key signs nothing more, in public words (no size or position): a route's 503 and /readyz's alike. */
export const LOG_KEY_REFUSES_TO_SIGN =
  'the transparency log was changed under the running service (checkpoints removed, or leaves altered): the log key signs nothing more until the operator acts (GET /v1/projections names why)';

/**
 * The status, code and details of an error the HTTP layer did not decide itself (mapError, problems.ts, maps an
 * HttpProblem first). `kind` words an unavailable store's advice (requestKindOf); a CLI's refusal is a command's.
 */
export const mapRaisedError = (error: unknown, kind: RequestKind = 'command'): Mapped => {
  // A key of the service's own missing from its Secure Environment (a protocol step answers the peer's own lost key
  // itself, key-gone.ts): the service's fault, and the handle stays in the log.
  if (isKeyNotFound(error)) return { status: 500, code: 'internal', detail: STATUS_CODES[500]! };
  if (error instanceof CredenceError) return fromCredenceError(error.problem, kind);
  if (error instanceof TransparencyLogOfAnotherLog) return commandsWaitForTheLog;
  if (error instanceof TransparencyLogAltered) return logAltered;
  // The log key refusing to sign a log changed under the service (checkpoints removed: review 372, a 500 `internal`
  // while /readyz said why): said in /readyz's public words, the finding (sizes, positions) left to the service's log.
  if (error instanceof TransparencyLogForked) return { status: 503, code: 'transparency_log_altered', detail: LOG_KEY_REFUSES_TO_SIGN };
  if (error instanceof EventsDbReplaced) return commandsRefusedOnceEventsDbReplaced;
  const damaged = damagedDatabaseOf(error);
  if (damaged?.problem.code === 'damaged_database' && damaged.problem.candidates !== undefined) {
    // No file found damaged on the request's path: the log names the files to check, the caller learns no more.
    const detail = "a database of the service is damaged: its operator must find which and mend it (the service's log says how)";
    return { ...fromCredenceError(damaged.problem, kind), detail };
  }
  if (damaged !== undefined) return fromCredenceError(damaged.problem, kind);
  // A damaged events.db under the failed commit is answered as one: no retry mends it.
  if (error instanceof GroupCommitError) return damagedDatabaseOf(error.cause) !== undefined ? mapRaisedError(error.cause, kind) : commitFailed(kind);
  // Another process held the write lock of a file the request writes (keys.db beside a running service, review 114)
  // past the wait: that write did not happen, but what the request did before it may stand (a provisioning's events
  // are stored before its key is confirmed, review 117), so no "nothing was written". The file's name, never its path.
  if (error instanceof LockHeldElsewhere) {
    return {
      status: 503,
      code: 'file_locked',
      detail: `the service's file ${error.file} was locked by another process's write transaction past the service's wait: read what the request changed before sending it again`,
      extensions: { file: error.file },
      headers: { 'retry-after': '1' },
    };
  }
  // An external event store unavailable for now (a transient EventStoreDbError): the caller may retry, and a command
  // is stored at most once under its id, even one whose append timed out after being written; a read just reads
  // again. Its message names the store's hosts (the leader's too), which stay in the log.
  const unavailable = storeUnavailableOf(error);
  if (unavailable !== undefined) {
    return {
      status: 503,
      code: 'store_unavailable',
      detail: `${storeUnavailableCause(unavailable)}: ${kind === 'command' && unavailable.nothingWritten === true ? STORE_NOTHING_STORED_ADVICE : retryAdvice(kind)}`,
      extensions: { reason: unavailable.reason },
      headers: { 'retry-after': String(unavailable.reason === 'unauthorised' ? STORE_UNAUTHORISED_RETRY_AFTER_SECONDS : STORE_UNREACHABLE_RETRY_AFTER_SECONDS) },
    };
  }
  const e = error as Partial<FastifyError> & { statusCode?: number };
  if (hasZodFastifySchemaValidationErrors(error) || (Array.isArray(e.validation) && e.validation.length > 0)) {
    const errors = schemaIssues(error as FastifyError);
    return { status: 400, code: 'validation', detail: `invalid request: ${errors.map((i) => `${i.path}: ${i.message}`).join('; ')}`, extensions: { errors } };
  }
  const known = e.code !== undefined ? FASTIFY_CODES[e.code] : undefined;
  if (known !== undefined) {
    const errors: FieldIssue[] = known.code === 'validation' ? [{ path: 'body', rule: 'json', message: known.detail }] : [];
    return { ...known, ...(errors.length > 0 ? { extensions: { errors } } : {}) };
  }
  if (e.code === 'FST_UNDER_PRESSURE') return { status: 503, code: 'overloaded', detail: 'the service is overloaded; retry later' };
  if (isResponseSerializationError(error as never)) return { status: 500, code: 'internal', detail: 'the response did not match its schema' };
  const fileRefusal = fileRefusalOf(error);
  if (fileRefusal !== undefined) return fileRefusal;
  // Other client errors raised by Fastify or its plugins: keep the status, never the message (it may quote input).
  // None is known to reach here (each above has its code); docs/service.md's Errors table names the form, `http_<status>`.
  const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
  return { status, code: status >= 500 ? 'internal' : `http_${status}`, detail: STATUS_CODES[status] ?? 'error' };
};
