import { recordedTokenScope } from '../../../projections/pseudonyms/index.ts';

/**
 * The stakeholders a token's event stream is limited to, as access.db keeps them (`tokens.scope`, JSON): M2M
 * subscription ids and App-IDs. The access control checks what they name when it issues and verifies a token
 * (projections/pseudonyms/public-scope.ts).
 */
export interface StoredScope {
  readonly subscriptions?: readonly string[];
  readonly appIds?: readonly string[];
}

export const scopeToColumn = (scope: StoredScope | undefined): string | null =>
  scope === undefined
    ? null
    : JSON.stringify({ ...(scope.subscriptions !== undefined ? { subscriptions: scope.subscriptions } : {}), ...(scope.appIds !== undefined ? { appIds: scope.appIds } : {}) });

/**
 * The scope of a stored row, or `damaged` for one that does not read (the file damaged, or edited by hand), read by
 * the verifier's own rule (`recordedTokenScope`): a scope as one is issued, on an integrator's token. Review 146: a
 * looser shape here let `{}`, a malformed id or a scope on an operator's token be listed `active` with its scope, while
 * every request with it was refused. Never taken for no scope: no scope is the whole fleet, and an unreadable scope
 * must not widen a token to it. The row is still listed, marked, so one damaged row does not hide every token from the
 * admins who must revoke it (review 56).
 */
export const scopeOfColumn = (column: string | null, role: string): StoredScope | 'damaged' | undefined => {
  if (column === null) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(column);
  } catch {
    return 'damaged';
  }
  return recordedTokenScope(json, role);
};
