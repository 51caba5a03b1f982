import {
  DEFAULT_LISTED_KEYS,
  MAX_LISTED_KEYS,
  type KeyHandle,
  type KeyListPage,
  type KeyListRequest,
  type ListedKey,
} from '../../../domain/ports/secure-environment.ts';
import { requireHandle } from './port-checks.ts';

/** listKeys' request as both implementations read it: a caller's mistake is a TypeError naming the field. */
export const checkListRequest = (request: KeyListRequest = {}): { readonly after?: KeyHandle; readonly limit: number } => {
  if (typeof request !== 'object' || request === null) throw new TypeError('request must be an object');
  const { after, limit = DEFAULT_LISTED_KEYS } = request;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LISTED_KEYS) throw new TypeError(`request.limit must be an integer from 1 to ${MAX_LISTED_KEYS}`);
  if (after === undefined) return { limit };
  try {
    requireHandle(after);
  } catch (error) {
    throw new TypeError(`request.after: ${(error as Error).message}`);
  }
  return { after, limit };
};

/** Plain code-unit order, the order SQLite's BINARY collation gives handles (ASCII only). */
const byHandle = (a: ListedKey, b: ListedKey): number => (a.handle < b.handle ? -1 : a.handle > b.handle ? 1 : 0);

/**
 * The smallest `limit` + 1 keys past `after` among many offered one at a time, in bounded memory (at most twice
 * that many kept): the page, and whether another follows, from a source that has no order of its own (a token).
 */
export class PageCollector {
  readonly #after: KeyHandle | undefined;
  readonly #keep: number;
  #keys: ListedKey[] = [];

  constructor(request: { readonly after?: KeyHandle; readonly limit: number }) {
    this.#after = request.after;
    this.#keep = request.limit + 1;
  }

  offer(key: ListedKey): void {
    if (this.#after !== undefined && key.handle <= this.#after) return;
    this.#keys.push(key);
    if (this.#keys.length >= 2 * this.#keep) this.#trim();
  }

  page(): KeyListPage {
    this.#trim();
    return pageOf(this.#keys, this.#keep - 1);
  }

  #trim(): void {
    // One handle twice (a key and its public half found by two searches) counts once.
    const unique = [...new Map(this.#keys.map((key) => [key.handle, key])).values()];
    this.#keys = unique.sort(byHandle).slice(0, this.#keep);
  }
}

/** `keys` sorted by handle, at most `limit` + 1 of them: the first `limit`, and `next` when one more is there. */
export const pageOf = (keys: readonly ListedKey[], limit: number): KeyListPage => {
  const sorted = [...keys].sort(byHandle);
  const shown = sorted.slice(0, limit);
  const last = shown.at(-1);
  return sorted.length > limit && last !== undefined ? { keys: shown, next: last.handle } : { keys: shown };
};
