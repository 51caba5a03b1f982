/**
 * The identifiers a credential issued to a CSE-ID or AE-ID counts under (batch.ts), keyed in memory by kind and id
 * (`cse\n/meter-1-cse`); READ_IDENTIFIERS reads by id alone.
 */
export const identifierKey = (kind: string, id: string): string => `${kind}\n${id}`;
export const idOfKey = (key: string): string => key.slice(key.indexOf('\n') + 1);
const isIdentifierKind = (kind: string): kind is 'cse' | 'ae' => kind === 'cse' || kind === 'ae';

/**
 * The `app-ae` identifier: an AE-ID as one App-ID uses it, unambiguous as JSON (the cascade's `appAeKey`). An
 * association of that App-ID's instance names it once established (review 49), besides the bare AE-ID its
 * configuration names, which old-shape credentials still follow.
 */
export const appAeId = (appId: string, aeId: string): string => JSON.stringify([appId, aeId]);

/**
 * The identifier whose node a credential counts under, as a key, when it is issued to one and names no node: an AE-ID's
 * that names its App-ID is that App-ID's instance's (`app-ae`); a CSE-ID's or AE-ID's stored before, the identifier's.
 */
export const identifierOfOwner = (kind: string, id: string, appId: string | null | undefined): string | undefined =>
  kind === 'ae' && appId != null ? identifierKey('app-ae', appAeId(appId, id)) : isIdentifierKind(kind) ? identifierKey(kind, id) : undefined;
