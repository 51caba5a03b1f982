import { z } from 'zod';
import { visibleText } from './visible-text.ts';

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

/** The longest part of a refused id a page repeats: enough to recognise it, not a page of it. */
const SHOWN_CHARS = 64;

/**
 * Why `id`, typed into a form, is not an entity id (undefined when it is one): a page says so beside the form and sends
 * nothing, where the address would have dropped it without a word (review 130). Format and control characters are
 * shown as code points (visible-text.ts).
 */
export const entityIdRefusal = (id: string): string | undefined => {
  if (ENTITY_ID.test(id)) return undefined;
  const shown = id.length > SHOWN_CHARS ? `${id.slice(0, SHOWN_CHARS)}…` : id;
  return `“${visibleText(shown)}” is not an entity id: an id is a letter or digit, then up to 255 letters, digits and . _ : ~ - (no space, no /)`;
};

/** A compliance query name as the server's catalog has them (`expiring`, `revocations`): lower-case words and hyphens. */
export const QUERY_NAME = /^[a-z][a-z-]{0,63}$/;

export const EntityId = z.string().regex(ENTITY_ID, 'must be an entity id: letters, digits and . _ : ~ -');
export const QueryName = z.string().regex(QUERY_NAME, 'must be a query name: lower-case letters and -').brand<'QueryName'>();
export type QueryName = z.infer<typeof QueryName>;
