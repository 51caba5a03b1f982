import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubscribeOptions } from '../domain/ports/event-store.ts';
import { startTestService, type TestService } from './support/service.ts';
import { appendRegisteredNodes, openStream, settled } from './http-sse.fixtures.ts';

/*
 * Review 285: what a stalled stream holds is its response's queue (`limits.sseHighWaterBytes`) plus its store
 * subscription's current page, and that page was the store's default (1,000 records: some 4.5 MB of 4.5 kB events a
 * stream). The event streams, canonical and pseudonymised, now ask the store for pages of at most 256 KiB of stored
 * payload (test/a-subscription-asked-for-a-page-of-bytes-holds-no-more-than-that.test.ts proves the store keeps to it).
 */

const MOST_PAGE_BYTES = 256 * 1024;

let svc: TestService;
const asked: SubscribeOptions[] = [];
beforeAll(async () => {
  svc = await startTestService({ config: { limits: { sseHeartbeatMs: 30_000 } } });
  await appendRegisteredNodes(svc.service.context.credence.store, 'paged', 3);
  await settled(svc);
  // Every subscription opened from now on, whoever opens it, with what it asked for.
  const store = svc.service.context.credence.store;
  const subscribe = store.subscribeToAll.bind(store);
  store.subscribeToAll = (options) => {
    asked.push(options);
    return subscribe(options);
  };
}, 60_000);
afterAll(async () => {
  await svc?.close();
});

describe('an event stream', () => {
  it.each([
    ['canonical', 'auditor', ''],
    ['pseudonymised', 'integrator', '&identifiers=pseudonymous'],
  ] as const)('%s: reads the store in pages of at most 256 KiB', async (_, role, query) => {
    asked.length = 0;
    const stream = await openStream(svc.url, svc.tokens[role], `/v1/events?type=NodeRegistered${query}`);
    try {
      expect(stream.status).toBe(200);
      await stream.until(() => stream.events().length >= 3, 'the three registrations');
      const streams = asked.filter((options) => options.filter?.eventTypes?.includes('NodeRegistered') === true);
      expect(streams.length).toBeGreaterThan(0);
      for (const options of streams) {
        expect(options.pageBytes).toBeGreaterThan(0);
        expect(options.pageBytes).toBeLessThanOrEqual(MOST_PAGE_BYTES);
      }
    } finally {
      stream.close();
    }
  });
});
