import type { AccessControl } from '../../../adapters/http/index.ts';

/** The tokens `npm start` prints live this long: a working day, so a forgotten terminal does not hold a key for weeks. */
export const LOCAL_TOKEN_TTL_SECONDS = 12 * 3600;
/** A token only the demo itself uses: as long as the scenario may take (and revoked when it ends). */
export const DEMO_TOKEN_TTL_SECONDS = 10 * 60;
const ISSUED_BY = 'credence:start';

export interface LocalTokens {
  readonly operator: string;
  readonly auditor: string;
  readonly expiresAt: Date;
  /** Their ids, to revoke them when they could not be printed (revokeLocalTokens). */
  readonly tokenIds: readonly string[];
}

/** Pages of the token list read when looking for the tokens of earlier starts (a page is 500 tokens). */
const MAX_PAGES = 100;

/** The printed tokens of earlier starts, still live: only the ones printed last stay usable. */
const revokeEarlierLocalTokens = (access: AccessControl): void => {
  let after: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const { tokens, next } = access.list({ limit: 500, ...(after !== undefined ? { after } : {}) });
    for (const t of tokens) if (t.issuedBy === ISSUED_BY && (t.state === 'active' || t.state === 'refused')) access.revoke(t.tokenId, ISSUED_BY);
    if (next === undefined) return;
    after = next;
  }
};

/**
 * A local operator and a local auditor, new at every start (issued in process: nothing to sign in with yet); the
 * ones an earlier start printed are revoked, so a terminal scrolled back or a log kept holds nothing live.
 */
export const issueLocalTokens = async (access: AccessControl): Promise<LocalTokens> => {
  revokeEarlierLocalTokens(access);
  const ttlSeconds = Math.min(LOCAL_TOKEN_TTL_SECONDS, access.maxTtlSeconds);
  const operator = await access.issue({ subject: 'local-operator', role: 'operator', ttlSeconds, issuedBy: ISSUED_BY });
  const auditor = await access.issue({ subject: 'local-auditor', role: 'auditor', ttlSeconds, issuedBy: ISSUED_BY });
  return { operator: operator.token, auditor: auditor.token, expiresAt: operator.expiresAt, tokenIds: [operator.tokenId, auditor.tokenId] };
};

/** Revokes the tokens of this start (issueLocalTokens): printed nowhere, nobody holds them. Throws where one is not found. */
export const revokeLocalTokens = (access: AccessControl, tokens: LocalTokens): void => {
  const missing = tokens.tokenIds.filter((tokenId) => !access.revoke(tokenId, ISSUED_BY));
  if (missing.length > 0) throw new Error(`${missing.join(', ')} not found`);
};

/**
 * Runs `work` with a token that lives only as long as the work may take and is revoked when it ends: the demo's
 * own operator (`operator:demo`, the actor its events record), or a reader nobody else is shown.
 */
export const withShortLivedToken = async <T>(
  access: AccessControl,
  who: { readonly subject: string; readonly role: 'operator' | 'auditor' },
  work: (token: string) => Promise<T>,
): Promise<T> => {
  const issued = await access.issue({ ...who, ttlSeconds: Math.min(DEMO_TOKEN_TTL_SECONDS, access.maxTtlSeconds), issuedBy: ISSUED_BY });
  try {
    return await work(issued.token);
  } finally {
    access.revoke(issued.tokenId, ISSUED_BY);
  }
};

/**
 * What a person needs to try the running server: where it is, two tokens, two commands to paste. `url` is where a
 * person or device reaches it (its public URL when one is given); `listening`, the address it listens on when another.
 */
export const accessLines = (
  r: { url: string; listening?: string | undefined; docsUrl: string; data: string; tokens: LocalTokens; example: string; crlUrl?: string | undefined; resume: string },
): string[] => {
  const hours = Math.round((r.tokens.expiresAt.getTime() - Date.now()) / 3_600_000);
  return [
    `Credence is running at ${r.url} (${r.listening !== undefined ? `listening on ${r.listening}; ` : ''}data in ${r.data})`,
    `  API docs  ${r.docsUrl}    OpenAPI  ${r.url}/openapi.json`,
    '',
    `A local operator and a local auditor token, issued at this start (those of earlier starts are revoked), valid ${hours} h.`,
    'A development convenience printed for this local demo only: a real deployment issues tokens with',
    '`credence token create` and never prints them.',
    `  export OPERATOR_TOKEN=${r.tokens.operator}`,
    `  export AUDITOR_TOKEN=${r.tokens.auditor}`,
    '',
    'Try, with those two lines pasted into a shell:',
    `  curl -N -H "Authorization: Bearer $AUDITOR_TOKEN" ${r.url}/v1/events`,
    `  ${r.example}`,
    // The issuing CA's complete CRL (public, no token): the revoked meters' certificates, as relying parties see them.
    ...(r.crlUrl !== undefined ? [`  curl -s ${r.crlUrl} | openssl crl -inform DER -noout -text`] : []),
    '',
    `Ctrl-C stops it gracefully; \`${r.resume}\` again resumes on ${r.data} (delete the folder to run the demo again).`,
  ];
};
