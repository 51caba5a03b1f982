import { z } from 'zod';
import { Identifier } from '../../domain/crypto/credential.ts';
import { EVENT_TYPES, RevocationReason } from '../../domain/events/index.ts';
import { ENTITY_KINDS, EntityKind, parseStreamId } from '../../domain/streams.ts';
import { MACHINES } from '../../machines/index.ts';
import { TokenId } from './auth/token-ids.ts';
import { holdsJwtText } from './jwt-text.ts';
import { continuesListingOf, PageCursor, readPageCursor, safeJson } from './page-cursor.ts';
import { beginsLikeASecretToken } from './secret-token-prefixes.ts';

/**
 * What a log line keeps of the value of each of the service's own query parameters: no looser than what the routes
 * take under that name (their `querystring` schemas in ./routes/; the union, where routes share a name), and tighter
 * where a route takes free text: a `cursor` the service issued, a `state` a machine has. A client may put a secret in
 * the value of one of them (`?cursor=<bearer token>`, `?state=<PSK>`), and a refused request's URL is logged too
 * (SER-001: no secret in logs). Shapes read the value as the route does (`+` a space, escapes decoded) and are linear
 * in its length.
 */
type Shape = (value: string) => boolean;

const oneOf = (values: readonly string[]): Shape => {
  const set = new Set(values);
  return (value) => set.has(value);
};
/** `?kind=node,credential` as `?kind=node&kind=credential` (adapters/http/sse/query.ts): each item trimmed. */
const listOf = (item: Shape): Shape => (value) => value.split(',').every((part) => part.trim() === '' || item(part.trim()));

const decimal: Shape = (value) => /^\d{1,19}$/.test(value);
/** A date or a date-time (compliance windows, `at`, `now`); a `+` offset written unescaped reads as a space. */
const instant: Shape = (value) => /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+ -]\d{2}(?::?\d{2})?)?)?$/.test(value);
/**
 * The printable ASCII of an identifier (domain/crypto/credential.ts): an id an operator reads, whatever its look, but
 * for one that begins like a well-known secret token (`ghp_…`, `sk_live_…`; review 52).
 */
const identifier: Shape = (value) => Identifier.safeParse(value).success && !beginsLikeASecretToken(value);
const streamId: Shape = (value) => {
  const ref = parseStreamId(value);
  return ref !== undefined && identifier(ref.id);
};

/** Every state a machine has: what the entities read model holds, so what a listing by state can find. */
const STATE_NAMES: readonly string[] = [...new Set(Object.values(MACHINES).flatMap((machine) => Object.keys(machine.root.states)))];


/** The entities listing a cursor continues (`JSON.stringify([kind ?? null, state ?? null])` in ./routes/entities.ts). */
const Listing = z.tuple([EntityKind.nullable(), z.string().nullable()]);
/** The longest `cursor` the entities route takes. */
const MAX_CURSOR_CHARS = 512;

/**
 * Whether `value` is a page cursor as GET /v1/entities issues it (./page-cursor.ts, of the last row's stream id and
 * the listing), byte for byte: an opaque token of a client's, base64url or not, is none, nor is a cursor it made
 * itself around a JWT. The stream id inside is an entity's, which operators read anyway.
 */
const issuedCursor: Shape = (value) => {
  const content = value.length <= MAX_CURSOR_CHARS ? readPageCursor(value) : undefined;
  if (content === undefined) return false;
  const listing = Listing.safeParse(safeJson(content.query)).data;
  const ref = parseStreamId(content.after);
  if (listing === undefined || ref === undefined || !identifier(ref.id) || holdsJwtText(content.after)) return false;
  const [kind, state] = listing;
  return continuesListingOf(ref, kind) && (state === null || STATE_NAMES.includes(state)) &&
    JSON.stringify(listing) === content.query && PageCursor.encode(content.after, content.query) === value;
};

/** The lists a route takes repeated (`?kind=node&kind=credential`); any other own name sent twice is not one of its values. */
export const LIST_PARAMETERS: ReadonlySet<string> = new Set(['kind', 'type', 'stream']);

/**
 * The shape of each parameter's value. Identifiers an operator reads (an actor, a subscription, a predecessor, entity
 * streams) are any printable ASCII an id may be, so an opaque token without a space fits them: told apart from an id
 * by nothing but a guess, it is kept; written `Bearer <token>`, a JWT (redact-url.ts), or beginning as a well-known
 * token does (./secret-token-prefixes.ts), it is not. A value is kept only on a route that takes its name
 * (./route-query-parameters.ts), so an identifier sent to /healthz or a 404 is not. Every other
 * value is a number, a date, a word of a closed list or a cursor the service issued, which no token fits.
 */
export const VALUE_SHAPES: Readonly<Record<string, Shape>> = {
  // tokens, entities, entity-graph, compliance, replay, events, enrolment, transparency
  limit: decimal,
  after: decimal,
  position: decimal,
  days: (value) => /^\d{1,5}(?:\.\d{1,9})?$/.test(value),
  at: instant,
  now: instant,
  from: (value) => instant(value) || decimal(value) || value === 'start' || value === 'end',
  to: (value) => instant(value) || decimal(value),
  includeExpired: oneOf(['true', 'false']),
  full: oneOf(['true', 'false']),
  order: oneOf(['log', 'newest']),
  by: oneOf(['occurred', 'recorded']),
  identifiers: oneOf(['canonical', 'pseudonymous']),
  reason: oneOf(RevocationReason.options),
  state: oneOf(STATE_NAMES),
  kind: listOf(oneOf(ENTITY_KINDS)),
  type: listOf(oneOf(EVENT_TYPES)),
  stream: listOf(streamId),
  cursor: issuedCursor,
  actor: identifier,
  subscription: identifier,
  predecessorId: identifier,
  // compliance `actions` (review 196): a token id as the service issues them, no secret (the token is another string).
  tokenId: (value) => TokenId.safeParse(value).success,
};
