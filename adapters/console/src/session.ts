import { tryFromBase64url } from '../../../domain/crypto/base64url.ts';

/**
 * The signed-in token lives in sessionStorage only, never in a URL, a cookie or a log line. Closing the tab does not
 * end it: a reopened tab (session restore) brings it back, Chromium copies it into a tab this one opens, and the server
 * accepts it until it expires; only Sign out revokes it (DELETE /v1/session). What the console shows about it
 * (subject, role, expiry) is read from the JWT's claims for display only: the server decides every access, and the
 * pages follow its 401 and 403 answers.
 */
const KEY = 'credence.console.token';
const MAX_TOKEN_CHARS = 8_192;
const ROLES = ['admin', 'operator', 'auditor', 'integrator'] as const;
export type Role = (typeof ROLES)[number];

export interface Session {
  readonly token: string;
  readonly subject: string;
  readonly role: Role | 'unknown';
  readonly expiresAt?: Date;
  /** The token's id (`jti`), what an admin names to revoke it. */
  readonly tokenId?: string;
}

const claimsOf = (token: string): Record<string, unknown> | undefined => {
  const payload = token.split('.')[1];
  const bytes = payload === undefined ? undefined : tryFromBase64url(payload);
  if (bytes === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

/** A bearer token as pasted (surrounding blanks and a `Bearer ` prefix dropped), or why it cannot be one. */
export const parseToken = (input: string): { ok: true; session: Session } | { ok: false; message: string } => {
  const token = input.trim().replace(/^bearer\s+/i, '');
  if (token === '') return { ok: false, message: 'paste a bearer token' };
  if (token.length > MAX_TOKEN_CHARS) return { ok: false, message: `a token is at most ${MAX_TOKEN_CHARS} characters` };
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
    return { ok: false, message: 'not a token: expected three base64url parts separated by dots (a JWT)' };
  }
  const claims = claimsOf(token);
  if (claims === undefined) return { ok: false, message: 'not a token: its claims are not readable JSON' };
  const role = ROLES.find((r) => r === claims['role']) ?? 'unknown';
  const subject = typeof claims['sub'] === 'string' ? claims['sub'] : '(no subject)';
  const exp = typeof claims['exp'] === 'number' ? new Date(claims['exp'] * 1000) : undefined;
  const jti = typeof claims['jti'] === 'string' && /^tok_[A-Za-z0-9_-]{22}$/.test(claims['jti']) ? claims['jti'] : undefined;
  return {
    ok: true,
    session: { token, subject, role, ...(exp !== undefined ? { expiresAt: exp } : {}), ...(jti !== undefined ? { tokenId: jti } : {}) },
  };
};

export const loadSession = (): Session | undefined => {
  const stored = sessionStorage.getItem(KEY);
  if (stored === null) return undefined;
  const parsed = parseToken(stored);
  return parsed.ok ? parsed.session : undefined;
};

export const saveSession = (session: Session): void => sessionStorage.setItem(KEY, session.token);

export const clearSession = (): void => sessionStorage.removeItem(KEY);
