/**
 * The console's only way to the server: API v1 with the signed-in bearer token. Refusals are RFC 9457 problems;
 * an `ApiError` keeps the status and the problem so that a page can say exactly what was refused and why.
 */

export interface Problem {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly detail?: string;
  readonly code?: string;
  readonly issues?: readonly { path: string; rule?: string; message: string }[];
  readonly [member: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    readonly path: string,
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

/** What the page says about an error: the problem's title and detail, and each field a validation names. */
export const describeError = (error: unknown): string => {
  if (error instanceof ApiError) {
    const issues = (error.problem.issues ?? []).map((i) => `${i.path}: ${i.message}`).join('; ');
    const head = `${error.problem.title ?? `HTTP ${error.status}`}${error.problem.detail ? `: ${error.problem.detail}` : ''}`;
    return issues === '' ? head : `${head} (${issues})`;
  }
  if (error instanceof DOMException && error.name === 'AbortError') return 'cancelled';
  if (error instanceof TypeError) return `the server could not be reached (${error.message})`;
  return error instanceof Error ? error.message : String(error);
};

type Listener = (error: ApiError) => void;

export class Api {
  private readonly unauthenticatedListeners = new Set<Listener>();

  constructor(private readonly token: string) {}

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
      ...(init.signal !== undefined ? { signal: init.signal } : {}),
    });
    if (!response.ok) throw await this.errorOf(response, path);
    return response;
  }

  async errorOf(response: Response, path: string): Promise<ApiError> {
    let problem: Problem = { title: response.statusText, status: response.status };
    try {
      const body: unknown = await response.json();
      if (typeof body === 'object' && body !== null) problem = body as Problem;
    } catch {
      // Not problem+json (a proxy's page): the status line says enough.
    }
    const error = new ApiError(response.status, problem, path);
    if (error.unauthenticated) for (const listener of this.unauthenticatedListeners) listener(error);
    return error;
  }

  async json<T>(path: string, signal?: AbortSignal): Promise<T> {
    const response = await this.request(path, signal === undefined ? {} : { signal });
    return (await response.json()) as T;
  }

  async text(path: string, accept: string, signal?: AbortSignal): Promise<string> {
    const response = await this.request(path, { accept, ...(signal !== undefined ? { signal } : {}) });
    return response.text();
  }
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
