import { ENTITY_KINDS, parseStreamId } from '../../../domain/streams.ts';
import { ENTITY_ID } from './path-names.ts';

/**
 * Hash routes (`#/overview`, `#/entity/node/meter-1`, `#/verify/node/meter-1`, `#/compliance`, `#/feed`): the
 * server serves one page at `/`, and the token never enters a URL.
 */
export type Route =
  | { readonly page: 'overview' }
  | { readonly page: 'entity'; readonly kind?: string; readonly id?: string }
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

export const parseRoute = (hash: string): Route => {
  const [page, kind, ...rest] = hash.replace(/^#\/?/, '').split('/');
  const raw = decode(rest.join('/'));
  switch (page) {
    case 'entity':
    case 'verify': {
      const decoded = decode(kind);
      // Only an entity kind and an id of the domain's form (path-names.ts): anything else is as if none was given.
      const k = decoded !== undefined && (ENTITY_KINDS as readonly string[]).includes(decoded) ? decoded : undefined;
      const id = k !== undefined && raw !== undefined && ENTITY_ID.test(raw) ? raw : undefined;
      return { page, ...(k !== undefined ? { kind: k } : {}), ...(id !== undefined ? { id } : {}) };
    }
    case 'compliance':
    case 'feed':
      return { page };
    default:
      return { page: 'overview' };
  }
};

export const entityHref = (kind: string, id: string): string => `#/entity/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`;
export const verifyHref = (kind: string, id: string): string => `#/verify/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`;

/** `node-meter-1` as a link target, when it is an entity stream. */
export const streamHref = (streamId: string): string | undefined => {
  const ref = parseStreamId(streamId);
  return ref === undefined ? undefined : entityHref(ref.kind, ref.id);
};
