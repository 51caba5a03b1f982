/**
 * Review 55: a bounded read of $all whose subscriptions are never confirmed gives up after its attempts; it gave up
 * as a plain transient error, which a CLI reports as a failure (exit 1) rather than as a server not answering
 * (exit 3). The last drop's unreachability is kept.
 */
import { describe, expect, it } from 'vitest';
import { EventReader } from '../adapters/driven/store/eventstoredb/event-reader.ts';
import { compileFilter } from '../adapters/driven/store/eventstoredb/filters.ts';
import { noAnswer } from '../adapters/driven/store/eventstoredb/deadline.ts';
import type { EsdbDriver, WireSubscription } from '../adapters/driven/store/eventstoredb/driver.ts';
import { isEventStoreUnreachable } from '../adapters/driven/store/eventstoredb/index.ts';

const silent = { ms: 50, server: '127.0.0.1:2113' };
const unanswered: WireSubscription = {
  next: () => Promise.reject(noAnswer(silent, 'subscription to $all')),
  close: () => Promise.resolve(),
};
const driver = { subscribeToAll: () => unanswered } as unknown as EsdbDriver;

describe('a bounded read of $all whose server never confirms a subscription', () => {
  it('gives up as an unreachable server', async () => {
    const reader = new EventReader(
      { driver, filter: compileFilter(undefined, 'filter'), policy: { initialDelayMs: 1, maxDelayMs: 1, maxAttempts: 3 }, until: 10n },
      Promise.resolve({ start: { kind: 'start' }, seen: undefined }),
    );
    const error = await reader.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(/dropped 3 times in a row \(last: .*127\.0\.0\.1:2113 did not answer/);
    expect(isEventStoreUnreachable(error)).toBe(true);
  });
});
