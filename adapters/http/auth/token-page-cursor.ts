import { z } from 'zod';

/**
 * Where a page of `GET /v1/tokens`, and of `credence token list`, starts: after this cursor, the last row's number in
 * access.db as the previous page's `next` gave it (sqlite-access-registry.ts).
 */
export const tokenPageCursor = (message = 'a cursor from a previous page') => z.string().regex(/^\d{1,15}$/, message);
