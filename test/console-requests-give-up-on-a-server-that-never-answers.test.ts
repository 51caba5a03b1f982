import { afterEach, describe, expect, it, vi } from 'vitest';

/*
 * Review 181: the console's requests had no bound: a server (or a proxy) that never answered left "Loading the evidence
 * bundle…" on the page for ever. Each request now gives up after REQUEST_TIMEOUT_MS, and the page says it timed out.
 */

// Loaded at run time: these sources are type-checked by the console's own project (DOM lib), not by this Node one.
const consoleSource = (file: string): string => new URL(`../adapters/console/src/${file}`, import.meta.url).href;
const { Api, describeError, REQUEST_TIMEOUT_MS } = (await import(consoleSource('api.ts'))) as {
  Api: new (token: string, timeoutMs?: number) => { json(path: string, schema: unknown, signal?: AbortSignal): Promise<unknown> };
  describeError: (error: unknown) => string;
  REQUEST_TIMEOUT_MS: number;
};
const { z } = await import('zod');

/** A fetch that never answers, and gives up only when its signal is aborted, with the signal's reason (as fetch does). */
const neverAnswers = (): typeof fetch =>
  ((_url: string, init: RequestInit) =>
    new Promise<Response>((_resolve, reject) => {
      const signal = init.signal!;
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    })) as unknown as typeof fetch;

afterEach(() => vi.unstubAllGlobals());

describe('a console request to a server that never answers', () => {
  it('gives up after a minute by default', () => {
    expect(REQUEST_TIMEOUT_MS).toBe(60_000);
  });

  it('gives up after the timeout and says that the server did not answer in time', async () => {
    vi.stubGlobal('fetch', neverAnswers());
    const api = new Api('t', 50);
    const failed = await api.json('/v1/transparency/evidence/node/n1', z.unknown()).then(() => undefined, (error: unknown) => error);
    expect(describeError(failed)).toBe('the server did not answer within 1 s (timed out)');
  });

  it('still stops at once, as cancelled, when the page leaves', async () => {
    vi.stubGlobal('fetch', neverAnswers());
    const abort = new AbortController();
    const pending = new Api('t').json('/v1/entities/node/n1', z.unknown(), abort.signal).then(() => undefined, (error: unknown) => error);
    abort.abort();
    expect(describeError(await pending)).toBe('cancelled');
  });
});
