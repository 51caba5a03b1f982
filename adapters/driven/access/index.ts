/** The access registry: which API tokens were issued, to whom, until when, and which were revoked (issue 12). */
export { ACCESS_DB_FILE, openAccessRegistry } from './sqlite-access-registry.ts';
export { revokedAt } from './revoked-at.ts';
export { readTokenPage } from './token-page-read-only.ts';
export type { AccessRegistry, LiveTokens, RecordRefusal, SigningKeyRecord, TokenPage, TokenRecord, TokenRefusalRule } from './sqlite-access-registry.ts';
export type { StoredScope } from './stored-scope.ts';
