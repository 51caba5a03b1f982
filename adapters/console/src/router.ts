import { ENTITY_KINDS, parseStreamId } from '../../../domain/streams.ts';
import { isEntityId } from './path-names.ts';

/**
 * Hash routes (`#/overview`, `#/entity/node/meter-1`, `#/verify/node/meter-1`, `#/compliance`, `#/feed`): the
 * server serves one page at `/`, and the token never enters a URL.
 */
export type Route =
  | { readonly page: 'overview' }
  | { readonly page: 'entity'; readonly kind?: string; readonly id?: string; readonly pages?: readonly string[] }
  | { readonly page: 'verify'; readonly kind?: string; readonly id?: string }
  | { readonly page: 'compliance' }
  | { readonly page: 'feed' };

export const PAGES = [
  { page: 'overview', label: 'Fleet overview' },
  { page: 'entity', label: 'Entities' },
  { page: 'verify', label: 'Verify evidence' },
  { page: 'compliance', label: 'Compliance queries' },
  { page: 'feed', label: 'Live events' },
] as const;

const decode = (part: string | undefined): string | undefined => {
  if (part === undefined || part === '') return undefined;
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
};

/**
 * The list's page in the address (`#/entity/node?pages=<cursor>.<cursor>`): the server's opaque page cursors
 * (base64url of a row's key and the listing, adapters/http/page-cursor.ts; no token, nothing secret) of the pages
 * before it and its own, so that a reload, Back or a shared link lands on it and Previous still pages back (review
 * 300). Only cursors of the server's form, and a bounded number of them, are taken: any other is as if none was given.
 */
const CURSOR = /^[A-Za-z0-9_-]{1,512}$/;
const MAX_PAGES = 200;

const parsePages = (query: string | undefined): readonly string[] | undefined => {
  const value = new URLSearchParams(query ?? '').get('pages');
  if (value === null || value === '') return undefined;
  const cursors = value.split('.');
  return cursors.length <= MAX_PAGES && cursors.every((c) => CURSOR.test(c)) ? cursors : undefined;
};

export const parseRoute = (hash: string): Route => {
  const [path = '', query] = hash.replace(/^#\/?/, '').split('?', 2);
  const [page, kind, ...rest] = path.split('/');
  const raw = decode(rest.join('/'));
  switch (page) {
    case 'entity':
    case 'verify': {
      const decoded = decode(kind);
      // Only an entity kind and an id of the domain's form (path-names.ts): anything else is as if none was given.
      const k = decoded !== undefined && (ENTITY_KINDS as readonly string[]).includes(decoded) ? decoded : undefined;
      const id = k !== undefined && raw !== undefined && isEntityId(raw) ? raw : undefined;
      const pages = page === 'entity' && k !== undefined && id === undefined ? parsePages(query) : undefined;
      return { page, ...(k !== undefined ? { kind: k } : {}), ...(id !== undefined ? { id } : {}), ...(pages !== undefined ? { pages } : {}) };
    }
    case 'compliance':
    case 'feed':
      return { page };
    default:
      return { page: 'overview' };
  }
};

export const entityHref = (kind: string, id: string): string => `#/entity/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`;
/** The cursors of the list's page an address names (none: page 1, or not a list's address). */
export const listPagesOf = (hash: string): readonly string[] => {
  const route = parseRoute(hash);
  return route.page === 'entity' ? (route.pages ?? []) : [];
};

/** The list of `kind` at the page after the last of `cursors` (page 1 without any). */
export const entityListHref = (kind: string, cursors: readonly string[]): string =>
  `#/entity/${encodeURIComponent(kind)}${cursors.length === 0 ? '' : `?pages=${cursors.join('.')}`}`;
export const verifyHref = (kind: string, id: string): string => `#/verify/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`;

/** `node-meter-1` as a link target, when it is an entity stream. */
export const streamHref = (streamId: string): string | undefined => {
  const ref = parseStreamId(streamId);
  return ref === undefined ? undefined : entityHref(ref.kind, ref.id);
};
