/**
 * The one HTTP client of Credence's own API, for the operator CLI, the device simulator, the demo and the tests.
 * A refusal arrives as RFC 9457 problem+json and becomes a `ProblemResponse`; a server that cannot be reached,
 * or does not answer in time, becomes `ServerUnreachable` (`ServerTimeout`; the CLI's exit code 3, but 2 for a port
 * fetch refuses, `badPort`); an answer that is not what it says (JSON that does not parse, a redirect) an
 * `UnexpectedResponse`.
 *
 * Redirects are never followed (found in review): fetch would send a DELETE answered 303 again as a GET with the
 * bearer token, so `token revoke` said "revoked" for a token still valid, and a 307 would post a command or a device's
 * protocol message, token and all, to whatever host the Location named. Every 3xx is an `UnexpectedResponse`.
 *
 * The service's "not now" (503 `overloaded` or `starting`, 429) is waited out as its Retry-After says, within bounds,
 * for a request safe to send again (RETRY_NOT_NOW, issue 1071: `credence demo` gave up when its own service shed load).
 */
import { retryAfterMs } from '../../domain/retry-after.ts';
import { PROBLEM_TYPE_BASE } from '../http/problem-type-base.ts';
import { ProblemJson } from './answers.ts';

/** How long one request may take, the answer included, unless the caller says otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/**
 * The largest answer read when the caller names none: an evidence bundle's file limit (bin/files.ts), far past any other.
 * Callers name a bound fitting the route's answer (operator.ts, device/transport.ts).
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly [extension: string]: unknown;
}

/** What the answer's Retry-After header asks to wait, in ms: the one reader of both clients (domain/retry-after.ts). */
export const retryAfterMsOf = (headers: Headers, now: number = Date.now()): number | undefined => retryAfterMs(headers.get('retry-after'), now);

export class ProblemResponse extends Error {
  /**
   * @param retryAfterMs what the answer's Retry-After header asked to wait (retryAfterMsOf), kept because a proxy's
   *   page carries no document to say it in, and Credence's own 503s say "retry later" and leave the time to it.
   */
  constructor(
    readonly status: number,
    readonly problem: ProblemDocument,
    readonly retryAfterMs?: number,
  ) {
    super(problem.detail ?? problem.title);
    this.name = 'ProblemResponse';
  }
}

/**
 * The scheme, host and port of `url`, which is all a message says of a server: a URL's path may name things, and its
 * user name and password (found in review: `cannot reach http://user:secret@host`) must never be printed.
 */
export const originOf = (url: string): string => (URL.canParse(url) ? new URL(url).origin : 'the server');

/**
 * The failures of a connection that never opened, so that no byte of a request left this client, each with what it
 * says: a command that met one was not sent, and sending it again is safe. Any other failure may come after the server
 * read the request (review 245: a refused connection said the command's outcome was unknown).
 */
const NEVER_CONNECTED: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'the connection was refused',
  ENOTFOUND: 'the host name did not resolve',
  EAI_AGAIN: 'the host name did not resolve',
  // Not EHOSTUNREACH or ENETUNREACH: Linux also fails an established connection so when its route dies after the
  // request was written (review 246), so they say nothing of whether the server read it.
};
/**
 * The ports fetch refuses to connect to, in Node as in every browser: the Fetch standard's "bad ports"
 * (https://fetch.spec.whatwg.org/#port-blocking), copied from there, since neither Node nor its undici exports the list.
 * A server on one is reached by neither the CLI nor the console (review 271: `serve --port 6000` started, and every
 * command to it said "cannot reach …: bad port", exit 3). Port 0 is left out: no server listens on it (`--port 0`
 * asks for a free one). The one list: the CLI's refusal (ServerUnreachable.badPort) and serve's warning read it.
 */
export const FETCH_BAD_PORTS: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111,
  113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548,
  554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566,
  6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** The rule a server's port breaks when it is one of FETCH_BAD_PORTS, as the CLI and serve say it. */
export const FETCH_BAD_PORT_RULE = "a port browsers and Node's fetch refuse (the Fetch standard's bad ports)";

/** The port of `url` when fetch refuses it (FETCH_BAD_PORTS), else undefined; a default port (80, 443) never is. */
const badPortOf = (url: string): number | undefined => {
  if (!URL.canParse(url)) return undefined;
  const { protocol, port } = new URL(url);
  return (protocol === 'http:' || protocol === 'https:') && port !== '' && FETCH_BAD_PORTS.has(Number(port)) ? Number(port) : undefined;
};

/** A connection that was open and closed before the answer came: the server may have read, and done, the request. */
const CLOSED_MIDWAY = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** The system's or undici's code of a failed fetch (its cause, or the cause itself), e.g. ECONNREFUSED. */
const codeOf = (cause: unknown): string | undefined => {
  const inner = cause instanceof Error && cause.cause instanceof Error ? cause.cause : cause;
  const code = inner instanceof Error ? (inner as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
};

export class ServerUnreachable extends Error {
  /** The server's origin (originOf), never the URL as given. */
  readonly url: string;
  /** Why nothing was sent, when the connection never opened (NEVER_CONNECTED); undefined when the server may have read it. */
  readonly unsent: string | undefined;
  /**
   * The port of the server's URL when fetch refused it before connecting (FETCH_BAD_PORTS): not a server down but a
   * URL no fetch reaches, which the CLI takes for bad usage of --server (exit 2). Nothing was sent (`unsent`).
   */
  readonly badPort: number | undefined;
  constructor(url: string, cause: unknown, message?: string) {
    const origin = originOf(url);
    const code = codeOf(cause);
    const detail = cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause);
    // undici's refusal carries no code, only its words, which are the standard's own ("bad port"); read only for a
    // port on the list, so that no other failure is taken for it.
    const refusedPort = cause instanceof ServerUnreachable ? cause.badPort : code === undefined && detail === 'bad port' ? badPortOf(url) : undefined;
    // The server was reached and dropped the connection (review 245: a dropping proxy's "other side closed" was said
    // "cannot reach"): what it did with the request is not known.
    super(
      message ??
        (refusedPort !== undefined
          ? `${origin}: port ${refusedPort} is ${FETCH_BAD_PORT_RULE}, so nothing was sent: serve on another port`
          : code !== undefined && CLOSED_MIDWAY.has(code)
            ? `the connection to ${origin} closed before its answer (${detail})`
            : `cannot reach ${origin}: ${detail}`),
    );
    this.name = 'ServerUnreachable';
    this.url = origin;
    this.badPort = refusedPort;
    this.unsent =
      cause instanceof ServerUnreachable ? cause.unsent : refusedPort !== undefined ? `fetch refuses port ${refusedPort}` : code !== undefined ? NEVER_CONNECTED[code] : undefined;
  }
}

/** A server that took the connection but gave no whole answer in time: as good as unreachable. */
export class ServerTimeout extends ServerUnreachable {
  constructor(url: string, readonly timeoutMs: number) {
    super(url, undefined, `no answer from ${originOf(url)} within ${timeoutMs / 1000} s`);
    this.name = 'ServerTimeout';
  }
}

/**
 * An answer this client cannot read: a body that is not the JSON its content type says, or (adapters/client/
 * operator.ts) one not of the shape the route documents. `what` is the request, e.g. `GET /v1/replay`.
 */
export class UnexpectedResponse extends Error {
  constructor(readonly what: string, readonly detail: string) {
    super(`unexpected answer from server to ${what}: ${detail}`);
    this.name = 'UnexpectedResponse';
  }
}

export interface RequestOptions {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path and query, e.g. `/v1/entities?kind=node`. */
  readonly path: string;
  readonly token?: string;
  readonly body?: unknown;
  readonly accept?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** How long the request may take, the answer included (default DEFAULT_TIMEOUT_MS); then `ServerTimeout`. */
  readonly timeoutMs?: number;
  /** The largest answer read (default DEFAULT_MAX_RESPONSE_BYTES); past it the read stops, `UnexpectedResponse`. */
  readonly maxResponseBytes?: number;
  /** How the service's "not now" is waited out (default RETRY_NOT_NOW); `false`: never sent again. */
  readonly retry?: RetryBounds | false;
}

export interface RetryBounds {
  /** The most times one request is sent again. */
  readonly maxRetries: number;
  /**
   * The longest all the waits of one request together, and never as long as the request's own timeout (`timeoutMs`,
   * the CLI's --timeout): a wait that would reach what is left is not begun, the refusal is thrown at once.
   */
  readonly maxTotalWaitMs: number;
}

/**
 * The bounds of waiting out the service's "not now" (isNotNow): each wait the whole Retry-After and a jitter
 * (retryWaitMs), all of them within 30 s (and the request's timeout) and ten times, past which the refusal is thrown
 * as it came. Each send has its own timeout too. Review 433: each wait was cut to 5 s, where the service asks 10 s by
 * default (limits.retryAfterSeconds) and a 429 the rest of its window, so the early send was refused again.
 */
export const RETRY_NOT_NOW: RetryBounds = { maxRetries: 10, maxTotalWaitMs: 30_000 };

/** The most a wait is drawn past its Retry-After, as a share of it, and at most. */
const RETRY_JITTER_SHARE = 0.1;
const MAX_RETRY_JITTER_MS = 1_000;
/** The least a wait lasts, whatever Retry-After says. */
const MIN_RETRY_WAIT_MS = 250;

/**
 * The wait before a request refused "not now" is sent again: the whole Retry-After, never less (the service refuses an
 * early one again, a 429 closing its connection), and up to a tenth of it more (at most 1 s), drawn, so that the
 * clients the service shed together do not come back together.
 */
const retryWaitMs = (retryAfterMs: number): number => {
  // A Retry-After of 0 (or a date past) from something between, not the service (which asks 1 s at least): not ten
  // sends at once.
  const asked = Math.max(retryAfterMs, MIN_RETRY_WAIT_MS);
  return asked + Math.random() * Math.min(asked * RETRY_JITTER_SHARE, MAX_RETRY_JITTER_MS);
};

/**
 * Whether a refusal says "not now" and when: a 429 (too many requests, refused before any work), or the service's own
 * 503 `overloaded` (its load shedding, refused before the route ran) or `starting` (serving nothing yet), each with a
 * Retry-After. Not an `overloaded` of a service shutting down, which will not answer again; not any other 5xx (a
 * store that failed may have stored the command: the command's own hint says to send it again, not this client) nor
 * a gateway's 503, which says nothing of what the service did.
 */
const isNotNow = (error: ProblemResponse): boolean => {
  if (error.retryAfterMs === undefined) return false;
  if (error.status === 429) return true;
  if (error.status !== 503) return false;
  const { type, reason } = error.problem;
  return type === `${PROBLEM_TYPE_BASE}starting` || (type === `${PROBLEM_TYPE_BASE}overloaded` && reason !== 'shutting down');
};

/**
 * Whether a request may be sent again with no harm: a GET, or a command carrying its command id (POST or PUT with a
 * `commandId`), which the service stores once at most, answering a repeat with the first outcome. A POST without one
 * (a command the server names, a device's protocol message, a token issued) is sent once only.
 */
const safeToSendAgain = (method: string, body: unknown): boolean =>
  method === 'GET' ||
  ((method === 'POST' || method === 'PUT') && typeof body === 'object' && body !== null && typeof (body as { commandId?: unknown }).commandId === 'string');

/** Resolves after `ms`, or rejects with `signal`'s reason as it aborts, as fetch does. */
const pause = (ms: number, signal: AbortSignal | undefined): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export interface HttpResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON when the response is JSON, else the text. */
  readonly body: T;
}

const parseJson = (text: string, what: string): unknown => {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UnexpectedResponse(what, `the body is not valid JSON (${(error as Error).message})`);
  }
};

/** The most of a body that is no problem document kept as the detail of the problem made in its place. */
const MAX_FALLBACK_DETAIL_CHARS = 500;

/**
 * A refusal (`text` its body) as a `ProblemResponse`: the RFC 9457 problem+json document the server sent, parsed
 * (answers.ts ProblemJson), else a problem made of the status with the start of the text (a proxy's HTML page, an
 * empty body), or, for a problem document that does not parse, the member and rule it breaks. Shared by `request`
 * and the event stream client (client/sse.ts).
 */
export const problemOf = (response: Response, text: string): ProblemResponse => {
  let body: unknown;
  if (/json/.test(response.headers.get('content-type') ?? '')) {
    try {
      body = JSON.parse(text);
    } catch {
      // Not a problem document: described by its text below.
    }
  }
  const parsed = ProblemJson.safeParse(body);
  const retryAfterMs = retryAfterMsOf(response.headers);
  if (parsed.success) {
    const { type, status, ...rest } = parsed.data;
    return new ProblemResponse(response.status, { ...rest, type: type ?? 'about:blank', status: status ?? response.status }, retryAfterMs);
  }
  const issue = parsed.error.issues[0];
  const meantAsProblem = typeof body === 'object' && body !== null && 'title' in body;
  const detail = meantAsProblem
    ? `the refusal's problem document is not readable: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'not the documented shape'}`
    : text.slice(0, MAX_FALLBACK_DETAIL_CHARS);
  const title = response.statusText.slice(0, 300) || `HTTP ${response.status}`;
  return new ProblemResponse(response.status, { type: 'about:blank', title, status: response.status, ...(detail !== '' ? { detail } : {}) }, retryAfterMs);
};

/** A redirect, which this client never follows (see the top of this file). */
export const isRedirect = (status: number): boolean => status >= 300 && status < 400;

/** The refusal of a redirect answer: its status only, never its Location (which may carry credentials of its own). */
export const redirected = (what: string, status: number): UnexpectedResponse =>
  new UnexpectedResponse(what, `the server answered ${status}, a redirect, which this client does not follow (give the server's own URL)`);

/**
 * `path` (absolute, from `/v1/...`, with its query) under `baseUrl`, whose own path is kept as a prefix: a service
 * behind a reverse proxy at `https://gateway/credence/` is reached at `https://gateway/credence/v1/...`. Resolving the
 * path against the base as a relative reference replaced the prefix, and the bearer token went to the gateway's own
 * `/v1/...`, which may be another application (found in review 24). A URL with a user name or password is refused
 * here, naming the argument and not echoing it: fetch refuses it too, with the whole URL in its message; so is one
 * with a query or fragment, which would be dropped.
 */
export const requestUrl = (baseUrl: string, path: string): URL => {
  const base = new URL(baseUrl);
  if (base.username !== '' || base.password !== '') throw new TypeError('baseUrl: must not carry a user name or password');
  if (base.search !== '' || base.hash !== '') throw new TypeError('baseUrl: must not carry a query or fragment');
  if (!path.startsWith('/')) throw new TypeError('path: must start with /');
  return new URL(`${base.pathname.replace(/\/+$/, '')}${path}`, base.origin);
};

/**
 * The answer's text, read up to `max` bytes: a server (or anything on the path) cannot make this client hold an answer
 * of any size in memory. A larger one is refused from its Content-Length, else once the bytes read pass the bound.
 */
export const boundedText = async (response: Response, max: number, what: string): Promise<string> => {
  const tooLarge = (): UnexpectedResponse => new UnexpectedResponse(what, `the answer is larger than ${max} bytes`);
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > max) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString('utf8');
};

/**
 * Sends one request; resolves for 2xx, throws `ProblemResponse` for 4xx and 5xx, `ServerUnreachable` on a network
 * failure (`ServerTimeout` past the timeout) and `UnexpectedResponse` for a redirect or a JSON body that does not
 * parse. A request fetch cannot build (a header value that is not Latin-1) is the caller's TypeError, thrown as is.
 * A request safe to send again (safeToSendAgain) refused "not now" (isNotNow) is sent again after its Retry-After,
 * within `options.retry` (RETRY_NOT_NOW) and `options.timeoutMs`; past them, or aborted while waiting, the refusal
 * (the abort) is thrown.
 */
export const request = async <T = unknown>(baseUrl: string, options: RequestOptions): Promise<HttpResponse<T>> => {
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const bounds = options.retry === false || !safeToSendAgain(method, options.body) ? undefined : (options.retry ?? RETRY_NOT_NOW);
  // All the waits together: within the bounds, and short of the request's own timeout (review 433: `--timeout 1`
  // waited 30 s, sending seven times).
  const totalWaitMs = bounds === undefined ? 0 : Math.min(bounds.maxTotalWaitMs, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let waited = 0;
  for (let retries = 0; ; retries += 1) {
    try {
      return await sendOnce<T>(baseUrl, options);
    } catch (error) {
      if (bounds === undefined || !(error instanceof ProblemResponse) || !isNotNow(error) || retries >= bounds.maxRetries) throw error;
      const wait = retryWaitMs(error.retryAfterMs ?? 0);
      // A wait that does not fit is not begun: the refusal now, not a send the service would refuse again.
      if (waited + wait >= totalWaitMs) throw error;
      waited += wait;
      await pause(wait, options.signal);
    }
  }
};

/** One send of `request`, never repeated. */
const sendOnce = async <T>(baseUrl: string, options: RequestOptions): Promise<HttpResponse<T>> => {
  const url = requestUrl(baseUrl, options.path);
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json', ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const started = performance.now();
  const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]);
  // The caller's own abort is theirs to handle; the deadline is a server too slow to answer.
  const failure = (error: unknown): unknown =>
    options.signal?.aborted === true ? error : deadline.aborted ? new ServerTimeout(baseUrl, timeoutMs) : new ServerUnreachable(baseUrl, error);
  const what = `${method} ${options.path.split('?')[0]}`;
  // Built before the request is sent, so that what fetch cannot send is the caller's error, not an unreachable server.
  const built = new Request(url, { method, headers, signal, redirect: 'manual', ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  let response: Response;
  let text: string;
  try {
    response = await fetch(built);
    if (isRedirect(response.status)) {
      await response.body?.cancel().catch(() => undefined);
      throw redirected(what, response.status);
    }
    text = await boundedText(response, options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, what);
  } catch (error) {
    throw error instanceof UnexpectedResponse ? error : failure(error);
  }
  if (!response.ok) throw problemOf(response, text);
  const type = response.headers.get('content-type') ?? '';
  const body: unknown = /json/.test(type) && text.length > 0 ? parseJson(text, what) : text;
  // The deadline's timer cannot fire while a body is parsed, so an answer whose parse ran past it is checked here: the
  // timeout covers the whole answer, its reading and parsing too (review 126).
  if (performance.now() - started > timeoutMs && options.signal?.aborted !== true) throw new ServerTimeout(baseUrl, timeoutMs);
  return { status: response.status, headers: response.headers, body: body as T };
};
