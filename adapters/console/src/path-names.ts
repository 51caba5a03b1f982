import { z } from 'zod';
import { NodeId } from '../../../domain/ids.ts';
import { visibleText } from './visible-text.ts';

/**
 * What may become a segment of an API request path. The console sends the signed-in user's token with every
 * request, and `..` or a `/` in a segment (which encodeURIComponent leaves, and the URL parser collapses) would send
 * it to another endpoint than the page means to call. So a name read from an address, an answer or an entity's
 * context goes into a path only when it has one of these forms.
 */

/**
 * An entity id by the domain's own rule (domain/ids.ts: 1 to 128 letters, digits and . _ : ~ -, the first a letter or
 * digit), the rule every kind's id follows (Node-ID, credential, association, M2M-Sub-ID; an AE-ID, an App-ID and a
 * pseudonym are of it too): the Node-ID's schema is that rule alone, so it is asked, not copied. The console's copy
 * allowed 256 characters, and an id of 129 to 256 was sent and answered 404 instead of refused (review 363).
 * Addresses (router.ts), forms and ids read from an entity's context (dependencies.ts) are all held to it.
 */
export const isEntityId = (id: string): boolean => NodeId.safeParse(id).success;

/** The domain's bound, as the forms say it (a test holds it to isEntityId on either side). */
export const ENTITY_ID_MAX_CHARS = 128;
/**
 * An id field's maxlength: one past the bound, so that a longer id pasted is refused in words (entityIdRefusal) rather
 * than cut by the field to a legal id of another entity and opened.
 */
export const ENTITY_ID_INPUT_CHARS = ENTITY_ID_MAX_CHARS + 1;

/** The longest part of a refused id a page repeats: enough to recognise it, not a page of it. */
const SHOWN_CHARS = 64;

/**
 * Why `id`, typed into a form, is not an entity id (undefined when it is one): a page says so beside the form and sends
 * nothing, where the address would have dropped it without a word (review 130). Format and control characters are
 * shown as code points (visible-text.ts).
 */
export const entityIdRefusal = (id: string): string | undefined => {
  if (isEntityId(id)) return undefined;
  const shown = id.length > SHOWN_CHARS ? `${id.slice(0, SHOWN_CHARS)}…` : id;
  return `“${visibleText(shown)}” is not an entity id: an id is 1 to ${ENTITY_ID_MAX_CHARS} letters, digits and . _ : ~ -, starting with a letter or digit (no space, no /)`;
};

/** A compliance query name as the server's catalog has them (`expiring`, `revocations`): lower-case words and hyphens. */
export const QUERY_NAME = /^[a-z][a-z-]{0,63}$/;

export const EntityId = z.string().refine(isEntityId, `must be an entity id: 1 to ${ENTITY_ID_MAX_CHARS} letters, digits and . _ : ~ -`);
export const QueryName = z.string().regex(QUERY_NAME, 'must be a query name: lower-case letters and -').brand<'QueryName'>();
export type QueryName = z.infer<typeof QueryName>;
