import { z } from 'zod';

/**
 * The stakeholders a token's event stream is limited to, as access.db keeps them (`tokens.scope`, JSON): M2M
 * subscription ids and App-IDs. The access control checks what they name when it issues and verifies a token
 * (projections/pseudonyms/public-scope.ts); here only the stored shape.
 */
export interface StoredScope {
  readonly subscriptions?: readonly string[];
  readonly appIds?: readonly string[];
}

const Ids = z.array(z.string().min(1).max(256)).min(1).max(1_000);
const StoredScopeJson = z.strictObject({ subscriptions: Ids.optional(), appIds: Ids.optional() });

export const scopeToColumn = (scope: StoredScope | undefined): string | null =>
  scope === undefined
    ? null
    : JSON.stringify({ ...(scope.subscriptions !== undefined ? { subscriptions: scope.subscriptions } : {}), ...(scope.appIds !== undefined ? { appIds: scope.appIds } : {}) });

/**
 * The scope of a stored row, or `damaged` for one that does not read (the file damaged, or edited by hand). Never
 * taken for no scope: no scope is the whole fleet, and an unreadable scope must not widen a token to it. The row is
 * still listed, marked, so one damaged row does not hide every token from the admins who must revoke it (review 56).
 */
export const scopeOfColumn = (column: string | null): StoredScope | 'damaged' | undefined => {
  if (column === null) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(column);
  } catch {
    json = undefined;
  }
  const parsed = StoredScopeJson.safeParse(json);
  return parsed.success ? parsed.data : 'damaged';
};
