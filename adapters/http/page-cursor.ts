import { z } from 'zod';
import { toBase64url, tryFromBase64url, utf8 } from '../../domain/crypto/index.ts';
import { validationError } from '../../domain/errors.ts';
import { ENTITY_KINDS, parseStreamId, type EntityKind } from '../../domain/streams.ts';

const CursorContent = z.strictObject({ after: z.string().min(1).max(300), query: z.string().max(300) });

/** The JSON value of `text`, or undefined when it is none: a cursor, or what it holds, may be anything a client sent. */
export const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * What a cursor holds, or undefined when it is none this API could have returned. Its own module, with no route in
 * it: the log lines' shapes (query-value-shapes.ts) read cursors too, and the routes' modules import the logger's.
 */
export const readPageCursor = (cursor: string): z.output<typeof CursorContent> | undefined => {
  const bytes = tryFromBase64url(cursor);
  return CursorContent.safeParse(bytes === undefined ? undefined : safeJson(new TextDecoder().decode(bytes))).data;
};

/** Whether a listing of entities of `kind` (null: of every kind) continues after the stream `ref`. */
export const continuesListingOf = (ref: { readonly kind: EntityKind }, kind: EntityKind | null): boolean => kind === null || ref.kind === kind;

/** A page cursor: opaque to clients (base64url of the last row's key), checked on the way back in. */
export const PageCursor = {
  /** `query`: the filter the page was listed under, so a cursor continues that listing and no other. */
  encode: (after: string, query: string): string => toBase64url(utf8(JSON.stringify({ after, query }))),
  decode: (cursor: string, query: string, field = 'query.cursor'): string => {
    const content = readPageCursor(cursor);
    if (content === undefined) throw validationError([{ path: field, rule: 'cursor', message: 'not a cursor this API returned' }], 'query');
    // Found in review: a cursor of one filter skipped every row of another, or listed rows of a third, with a 200.
    if (content.query !== query) throw validationError([{ path: field, rule: 'cursor', message: 'a cursor of another listing: continue with the filter it was returned for' }], 'query');
    return content.after;
  },
  /**
   * The stream id a listing of entities continues after: one of its `kind`, or of any kind without one. Review 461: a
   * cursor after a node's stream on `kind=credential` answered an empty page without `nextCursor` (read as "no more"),
   * and one after a word no stream has skipped or listed rows at random. The `after` is never echoed: a client's.
   */
  decodeStreamAfter: (cursor: string, query: string, kind: EntityKind | undefined): string => {
    const field = 'query.cursor';
    const after = PageCursor.decode(cursor, query, field);
    const ref = parseStreamId(after);
    if (ref !== undefined && continuesListingOf(ref, kind ?? null)) return after;
    const must = kind === undefined ? `an entity's stream id (<kind>-<id>, the kind one of ${ENTITY_KINDS.join(', ')})` : `a ${kind}'s stream id (${kind}-<id>)`;
    throw validationError([{ path: field, rule: 'cursor', message: `not a cursor of this listing, which continues only after ${must}; page again from the start (without \`cursor\`)` }], 'query');
  },
};
