import { z } from 'zod';

/**
 * What may become a segment of an API request path. The console sends the signed-in user's token with every
 * request, and `..` or a `/` in a segment (which encodeURIComponent leaves, and the URL parser collapses) would send
 * it to another endpoint than the page means to call. So a name read from an address, an answer or an entity's
 * context goes into a path only when it has one of these forms.
 */

/**
 * An entity id as the domain writes them (domain/ids.ts: a letter or digit, then letters, digits and . _ : ~ -).
 * Addresses (router.ts) and ids read from an entity's context (dependencies.ts) are both held to it.
 */
export const ENTITY_ID = /^[A-Za-z0-9][A-Za-z0-9._:~-]{0,255}$/;

/** A compliance query name as the server's catalog has them (`expiring`, `revocations`): lower-case words and hyphens. */
export const QUERY_NAME = /^[a-z][a-z-]{0,63}$/;

export const EntityId = z.string().regex(ENTITY_ID, 'must be an entity id: letters, digits and . _ : ~ -');
export const QueryName = z.string().regex(QUERY_NAME, 'must be a query name: lower-case letters and -').brand<'QueryName'>();
export type QueryName = z.infer<typeof QueryName>;
