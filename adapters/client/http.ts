/**
 * The one HTTP client of Credence's own API, for the operator CLI, the device simulator, the demo and the tests.
 * A refusal arrives as RFC 9457 problem+json and becomes a `ProblemResponse`; a server that cannot be reached
 * becomes `ServerUnreachable` (the CLI's exit code 3).
 */

export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly [extension: string]: unknown;
}

export class ProblemResponse extends Error {
  constructor(readonly status: number, readonly problem: ProblemDocument) {
    super(problem.detail ?? problem.title);
    this.name = 'ProblemResponse';
  }
}

export class ServerUnreachable extends Error {
  constructor(readonly url: string, cause: unknown) {
    super(`cannot reach ${url}: ${cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause)}`);
    this.name = 'ServerUnreachable';
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
}

export interface HttpResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON when the response is JSON, else the text. */
  readonly body: T;
}

/** Sends one request; resolves for 2xx, throws `ProblemResponse` otherwise and `ServerUnreachable` on a network failure. */
export const request = async <T = unknown>(baseUrl: string, options: RequestOptions): Promise<HttpResponse<T>> => {
  const url = new URL(options.path, baseUrl).toString();
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json', ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted === true) throw error;
    throw new ServerUnreachable(baseUrl, error);
  }
  const type = response.headers.get('content-type') ?? '';
  const text = await response.text();
  const body: unknown = /json/.test(type) && text.length > 0 ? JSON.parse(text) : text;
  if (!response.ok) {
    const problem =
      typeof body === 'object' && body !== null && 'title' in body
        ? (body as ProblemDocument)
        : { type: 'about:blank', title: response.statusText, status: response.status, detail: typeof body === 'string' ? body.slice(0, 500) : undefined };
    throw new ProblemResponse(response.status, problem as ProblemDocument);
  }
  return { status: response.status, headers: response.headers, body: body as T };
};
