import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStore, ReadAllOptions, RecordedEvent } from '../domain/ports/event-store.ts';
import { IDENTITY_EVENT_TYPES } from '../projections/pseudonyms/index.ts';
import { keptFoldAtOrBelow } from '../projections/pseudonyms/kept-folds.ts';
import { startTestService, type TestService } from './support/service.ts';
import { openStream, ops, settled } from './http-sse.fixtures.ts';

/*
 * Review 241: GET /v1/events hands a pseudonymised stream's fold a view of the store made per request (it notes the
 * record each event was made of, adapters/http/sse/event-id.ts), and the kept folds and the folds under way were
 * keyed by the store object: each stream kept its fold under its own view, which no later stream reads. Every
 * integrator reconnect folded every identity event from the start (docs/service.md promised it folds only those since
 * the fold kept), streams opened together did not wait for each other's fold, and each live stream kept its own copy
 * of the fleet's identities. Over HTTP here: the second `from=end` open reads the identity events on from the fold the
 * first kept, under the service's own store.
 */

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ config: { limits: { sseHeartbeatMs: 50 } } });
  const { engine } = svc.service.context.credence;
  await engine.execute(ops.createSubscription('sub-01'));
  for (const node of ['meter-01', 'meter-02', 'meter-03', 'meter-04']) {
    await engine.execute(ops.registerNode(node));
    await engine.execute(ops.enrolNode(node, 'sub-01'));
  }
  await settled(svc);
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

/** One read of the identity events, as identitiesUpTo makes it: where it started, and how many records it gave. */
interface FoldRead {
  readonly afterPosition: bigint | undefined;
  records: number;
}

/** Notes every identity fold's read of `store` (its `readAll` over IDENTITY_EVENT_TYPES) until `stop()`. */
const watchFoldReads = (store: EventStore) => {
  const reads: FoldRead[] = [];
  const readAll = store.readAll.bind(store);
  async function* counted(read: FoldRead, records: AsyncIterable<RecordedEvent>): AsyncIterable<RecordedEvent> {
    for await (const record of records) {
      read.records += 1;
      yield record;
    }
  }
  const mutable = store as { readAll: EventStore['readAll'] };
  mutable.readAll = (options?: ReadAllOptions) => {
    if (options?.filter?.eventTypes !== IDENTITY_EVENT_TYPES) return readAll(options);
    const read: FoldRead = { afterPosition: options.afterPosition, records: 0 };
    reads.push(read);
    return counted(read, readAll(options));
  };
  return { reads, stop: () => void delete (mutable as { readAll?: unknown }).readAll };
};

const integratorFromEnd = () => openStream(svc.url, svc.tokens.integrator, '/v1/events?from=end&identifiers=pseudonymous');

describe("an integrator's pseudonymised stream reopened from=end", () => {
  it('folds on from the fold the first one kept under the service store, reading none of the identity events before it', async () => {
    const store = svc.service.context.credence.store;
    const head = (await store.headPosition())!;
    const watch = watchFoldReads(store);
    try {
      const first = await integratorFromEnd();
      expect(first.status).toBe(200);
      await expect.poll(() => keptFoldAtOrBelow(store, head), { timeout: 10_000 }).toBeDefined();
      first.close();
      const kept = keptFoldAtOrBelow(store, head)!;
      expect(watch.reads).toHaveLength(1);
      expect(watch.reads[0]!.afterPosition).toBeUndefined();
      expect(watch.reads[0]!.records).toBeGreaterThanOrEqual(8);

      const second = await integratorFromEnd();
      expect(second.status).toBe(200);
      await expect.poll(() => watch.reads.length, { timeout: 10_000 }).toBe(2);
      second.close();
      expect(watch.reads[1]!.afterPosition).toBe(kept.position);
      expect(watch.reads[1]!.records).toBe(0);
    } finally {
      watch.stop();
    }
  });
});
