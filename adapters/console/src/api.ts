import type { z } from 'zod';
import { retryAfterMs, transientStatus, waitText } from './retry-after.ts';
import { ComplianceCursor, describeIssues, Problem } from './schemas.ts';
import { visibleText } from './visible-text.ts';

/**
 * The console's only way to the server: API v1 with the signed-in bearer token. Refusals are RFC 9457 problems;
 * an `ApiError` keeps the status and the problem so that a page can say exactly what was refused and why. Every
 * answer a page reads is parsed with its schema (schemas.ts); one that does not match is an `UnexpectedAnswer`,
 * shown in the page's error state, never rendered.
 */

export type { Problem };

/** The server answered, but not what the console expects (another version of the server, a proxy's page). */
export class UnexpectedAnswer extends Error {
  constructor(
    readonly path: string,
    readonly issues: string,
  ) {
    super(`The server's answer to ${path} is not what this console expects (${issues}). The console and the server may be of different versions: reload the page.`);
    this.name = 'UnexpectedAnswer';
  }
}

/** `value` parsed by `schema`, or an `UnexpectedAnswer` naming `path` and the fields that failed. */
export const parseAnswer = <S extends z.ZodType>(schema: S, value: unknown, path: string): z.output<S> => {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UnexpectedAnswer(path, describeIssues(parsed.error));
  return parsed.data;
};

/**
 * How long a request may take, its body included: a server or proxy that never answers otherwise left a page on
 * "Loading…" for ever (review 181). A minute, the longest wait the console otherwise asks of anyone (backoffs,
 * Retry-After), and well past what the server's bounded reads take.
 */
export const REQUEST_TIMEOUT_MS = 60_000;

/** The server did not answer `path` within the bound (`REQUEST_TIMEOUT_MS`): worth another try, as a 503 is. */
export class TimedOut extends Error {
  constructor(
    readonly path: string,
    readonly timeoutMs: number,
  ) {
    super(`the server did not answer within ${waitText(timeoutMs)} (timed out)`);
    this.name = 'TimedOut';
  }
}

/**
 * `signal` (the page's: it stops when the page is left) joined with the bound on `path`, whose abort reason is a
 * `TimedOut`: fetch and the body's read reject with it, so a page can tell a timeout from leaving. Every request the
 * console sends goes through it, signing in and out included (review 212: "Checking…" for ever).
 */
export const bounded = (path: string, timeoutMs: number, signal: AbortSignal | undefined): AbortSignal => {
  const timer = new AbortController();
  setTimeout(() => timer.abort(new TimedOut(path, timeoutMs)), timeoutMs);
  return signal === undefined ? timer.signal : AbortSignal.any([signal, timer.signal]);
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    readonly path: string,
    /** How long the server (its `Retry-After`) asked to wait before trying again, when it said. */
    readonly retryAfterMs?: number,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = 'ApiError';
  }

  get refused(): boolean {
    return this.status === 403;
  }

  get unauthenticated(): boolean {
    return this.status === 401;
  }
}

/** Worth another try later: the server could not be reached, did not answer in time, or said so (`transientStatus`). */
export const worthRetrying = (error: unknown): boolean =>
  error instanceof TypeError || error instanceof TimedOut || (error instanceof ApiError && transientStatus(error.status));

/** A field a refusal names, with the rule it failed when the server says it: `query.after (position_range): …`. */
const describeIssue = (issue: { readonly path: string; readonly rule?: string | undefined; readonly message: string }): string =>
  `${issue.path}${issue.rule !== undefined ? ` (${issue.rule})` : ''}: ${issue.message}`;

/**
 * What the page says about an error: the problem's title and detail, and each field a validation names, with its rule.
 * The one place an error becomes text, so its format and control characters are shown as code points here (review
 * 223: a right-to-left override in a problem's detail made the rest of the message read reversed).
 */
export const describeError = (error: unknown): string => visibleText(errorText(error));

const errorText = (error: unknown): string => {
  if (error instanceof ApiError) {
    const issues = error.problem.errors ?? [];
    const original = error.problem.detail ?? '';
    // The server's detail usually names the fields already, without their rules (review 130: `invalid_format` and
    // `position_range` read alike): the rule is put in where the detail names the field (the longest first, so that
    // `b: …` is not found inside `a.b: …`), and each field it does not name is added.
    let detail = original;
    for (const issue of [...issues].sort((a, b) => b.path.length - a.path.length)) {
      const named = `${issue.path}: ${issue.message}`;
      if (detail.includes(named)) detail = detail.split(named).join(describeIssue(issue));
    }
    const unnamed = issues.filter((i) => !original.includes(`${i.path}: ${i.message}`)).map(describeIssue);
    const head = `${error.problem.title ?? `HTTP ${error.status}`}${detail !== '' ? `: ${detail}` : ''}`;
    return unnamed.length === 0 ? head : `${head} (${unnamed.join('; ')})`;
  }
  if (error instanceof DOMException && error.name === 'AbortError') return 'cancelled';
  if (error instanceof TypeError) return `the server could not be reached (${error.message})`;
  return error instanceof Error ? error.message : String(error);
};

/** The media type of an answer, without its parameters, in lower case ('' when it names none). */
const mediaTypeOf = (response: Response): string => (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();

/**
 * A refusal's problem document (RFC 9457), or only its status line when the body is none: a body served as anything
 * but application/problem+json (a proxy's or gateway's page, even one that looks like JSON with a `detail`) is never
 * shown as the server's reason, where its words would read as the console's own (review 80).
 */
export const problemOf = async (response: Response): Promise<Problem> => {
  // HTTP/2 has no reason phrase: an empty statusText would leave the message without even the status.
  const statusLine = { title: response.statusText || `HTTP ${response.status}`, status: response.status };
  if (mediaTypeOf(response) !== 'application/problem+json') {
    await response.body?.cancel();
    return statusLine;
  }
  const body = Problem.safeParse(await response.json().catch(() => undefined));
  return body.success ? body.data : statusLine;
};

/** A refusal as an `ApiError`: its problem document (`problemOf`) and the wait its `Retry-After` asks for. */
export const apiErrorOf = async (response: Response, path: string): Promise<ApiError> =>
  new ApiError(response.status, await problemOf(response), path, retryAfterMs(response.headers.get('retry-after')));

/** How many stored events the read models had not handled when the server answered (`credence-events-behind`; 0 when unsaid). */
const eventsBehindOf = (response: Response): number => {
  const behind = response.headers.get('credence-events-behind');
  return behind !== null && /^\d{1,15}$/.test(behind) ? Number(behind) : 0;
};

/** Whether the server's count of those events stopped at its limit (`credence-events-behind-at-least: true`, review 416). */
const eventsBehindAtLeastOf = (response: Response): boolean => response.headers.get('credence-events-behind-at-least')?.trim().toLowerCase() === 'true';

type Listener = (error: ApiError) => void;

export class Api {
  private readonly unauthenticatedListeners = new Set<Listener>();

  constructor(
    private readonly token: string,
    /** Tests shorten it; pages use the default. The event stream bounds its connection set-up by it too (sse.ts). */
    readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {}

  /** Called when the server answers 401: the token expired or was revoked, and the user must sign in again. */
  onUnauthenticated(listener: Listener): () => void {
    this.unauthenticatedListeners.add(listener);
    return () => this.unauthenticatedListeners.delete(listener);
  }

  headers(accept = 'application/json'): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, accept };
  }

  async request(path: string, init: { accept?: string; signal?: AbortSignal } = {}): Promise<Response> {
    const response = await fetch(path, {
      headers: this.headers(init.accept),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      signal: bounded(path, this.timeoutMs, init.signal),
    });
    if (!response.ok) throw await this.errorOf(response, path);
    return response;
  }

  /**
   * Signing out: the server revokes this token (`DELETE /v1/session`), so it is good for nothing after the tab lets it
   * go. A 401 means it was good for nothing already. Any other failure is thrown, a `TimedOut` too when the server did
   * not answer within the bound, for the page to say the token may still be valid; the 401 listeners are not told (the
   * user is signing out already).
   */
  async signOut(): Promise<void> {
    const response = await fetch('/v1/session', {
      method: 'DELETE',
      headers: this.headers(),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      signal: bounded('/v1/session', this.timeoutMs, undefined),
    });
    if (response.ok || response.status === 401) return;
    throw await apiErrorOf(response, '/v1/session');
  }

  /**
   * Whether the server still accepts the token, by the cheapest request every role may send: GET /v1/compliance, a
   * fixed catalog read from no store (the server has no GET /v1/session). Its 403, for an integrator, means the token is
   * good all the same; a 401 tells the listeners, as every request's does, and is thrown with any other failure.
   */
  async checkToken(signal: AbortSignal): Promise<void> {
    try {
      const response = await this.request('/v1/compliance', { signal });
      await response.body?.cancel();
    } catch (error) {
      if (!(error instanceof ApiError && error.refused)) throw error;
    }
  }

  /** The user must sign in again (a stream the server ended for a revoked or expired token): told as a 401 is. */
  unauthenticated(path: string): void {
    const error = new ApiError(401, { title: 'the token was revoked or expired', status: 401 }, path);
    for (const listener of this.unauthenticatedListeners) listener(error);
  }

  async errorOf(response: Response, path: string): Promise<ApiError> {
    const error = await apiErrorOf(response, path);
    if (error.unauthenticated) for (const listener of this.unauthenticatedListeners) listener(error);
    return error;
  }

  /** The JSON answer to GET `path`, parsed by `schema` (an `UnexpectedAnswer` when it does not match, or is not JSON). */
  async json<S extends z.ZodType>(path: string, schema: S, signal?: AbortSignal): Promise<z.output<S>> {
    return (await this.jsonBehind(path, schema, signal)).value;
  }

  /**
   * `json`, with how many stored events the read models had not handled when the server answered (its
   * `credence-events-behind` header; 0 when the answer does not say) and whether the server's count stopped at its limit
   * (`credence-events-behind-at-least`: that many or more, review 428): an answer from read models behind the store
   * may miss the latest changes, and a page must say so rather than show it as current (found in review: a revoked
   * credential was shown live, and "Nothing revoked", without a word).
   */
  async jsonBehind<S extends z.ZodType>(path: string, schema: S, signal?: AbortSignal): Promise<{ value: z.output<S> } & Behind> {
    const response = await this.request(path, signal === undefined ? {} : { signal });
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      if ((error instanceof DOMException && error.name === 'AbortError') || error instanceof TimedOut) throw error;
      throw new UnexpectedAnswer(path, 'not JSON');
    }
    const eventsBehind = eventsBehindOf(response);
    return { value: parseAnswer(schema, body, path), eventsBehind, eventsBehindAtLeast: eventsBehind > 0 && eventsBehindAtLeastOf(response) };
  }

  /**
   * The body of GET `path` in the media type `accept` names: an answer of another type (a proxy's HTML page, JSON from
   * a server that does not know the type) is an `UnexpectedAnswer`, never saved as though it were the file asked for.
   */
  async text(path: string, accept: string, signal?: AbortSignal): Promise<TextAnswer> {
    const response = await this.request(path, { accept, ...(signal !== undefined ? { signal } : {}) });
    const type = mediaTypeOf(response);
    if (type !== accept.toLowerCase()) {
      await response.body?.cancel();
      throw new UnexpectedAnswer(path, `answered ${type === '' ? 'with no content type' : type}, not ${accept}`);
    }
    const nextAfter = response.headers.get('credence-next-after');
    const eventsBehind = eventsBehindOf(response);
    return {
      text: await response.text(),
      // A CSV has no field for it: the server says a cut answer in its headers (docs/service.md, compliance queries).
      truncated: response.headers.get('credence-truncated') === 'true',
      // Held to the schema the JSON answer's `nextAfter` is: a position, or expiring's cursor.
      ...(nextAfter !== null && ComplianceCursor.safeParse(nextAfter).success ? { nextAfter } : {}),
      // A file from read models behind the store may miss rows, and must not be saved as complete (review 152).
      ...(eventsBehind > 0 ? { eventsBehind, ...(eventsBehindAtLeastOf(response) ? { eventsBehindAtLeast: true } : {}) } : {}),
    };
  }
}

/**
 * How many stored events the read models had not handled when the server answered (0: none), and whether the server's
 * count stopped at its limit (100,000): `eventsBehind` or more, never shown as exact (review 428).
 */
export interface Behind {
  readonly eventsBehind: number;
  readonly eventsBehindAtLeast: boolean;
}

export const NOT_BEHIND: Behind = { eventsBehind: 0, eventsBehindAtLeast: false };

/**
 * The further behind of two answers: the larger count, said as "or more" when a count that reached it was stopped at
 * the server's limit (an exact count below an at-least one is no bound on it).
 */
export const furthestBehind = (a: Behind, b: Behind): Behind => {
  const eventsBehind = Math.max(a.eventsBehind, b.eventsBehind);
  const atLeast = (x: Behind): boolean => x.eventsBehindAtLeast && x.eventsBehind >= eventsBehind;
  return { eventsBehind, eventsBehindAtLeast: eventsBehind > 0 && (atLeast(a) || atLeast(b)) };
};

/**
 * A text answer (a CSV), whether the server cut it (more rows matched, the next page after `nextAfter`), and how many
 * stored events its read models had not handled.
 */
export interface TextAnswer {
  readonly text: string;
  readonly truncated: boolean;
  /** Said only when more than 0. */
  readonly eventsBehind?: number;
  /** The server's count stopped at its limit: `eventsBehind` or more. Said only when so. */
  readonly eventsBehindAtLeast?: boolean;
  readonly nextAfter?: string;
}

/** `/v1/...` with a query string of the defined, non-empty parameters. */
export const pathWith = (path: string, params: Readonly<Record<string, string | undefined>>): string => {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') query.set(key, value);
  const text = query.toString();
  return text === '' ? path : `${path}?${text}`;
};

/** `/v1/entities/{kind}/{id}`, each segment encoded. */
export const entityPath = (kind: string, id: string): string => `/v1/entities/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`;
