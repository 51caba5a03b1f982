import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProblemResponse, request } from '../adapters/client/http.ts';
import { EventStoreDbError } from '../adapters/driven/store/eventstoredb/driver.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { ExpectedRevision, type RecordedEvent } from '../domain/ports/event-store.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { openStream } from './http-sse.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

/*
 * Review 132: EventStoreDB starts a read or subscription after the record at the position it is given. A resume point
 * below the head that is no event's own position (a node registered at P, read with `after=P-1`) skipped the event at
 * P without a word: GET /v1/events served only the later NodeRevoked, where SQLite serves both. The service only
 * refused positions past the head. Now, on a store that is not gapless, such a position is refused as the past-head
 * one is (409 `resume_point_not_in_log`), the stand-in refuses it as a real server does (INVALID_ARGUMENT: inside a
 * record), and the adapter says so as a refusal, not as a transient failure to retry: a subscription from there used
 * to resubscribe for ever, and a bounded read to retry five times before calling the server unreachable.
 */

const node = (nodeId: string) => ({
  type: 'registerNode',
  data: { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] }, bootstrapCredentialId: `${nodeId}-boot` },
});

const registerAndRevoke = async (svc: TestService, nodeId: string): Promise<bigint> => {
  const post = (body: unknown) => request<{ events: { position: string }[] }>(svc.url, { path: '/v1/commands', token: svc.tokens.operator, body });
  const registered = await post(node(nodeId));
  expect(registered.status).toBe(201);
  expect((await post({ type: 'revokeNode', data: { nodeId, reason: 'keyCompromise' } })).status).toBe(201);
  return BigInt(registered.body.events[0]!.position);
};

const eventsAfter = async (svc: TestService, nodeId: string, after: bigint, count: number): Promise<string[]> => {
  const stream = await openStream(svc.url, svc.tokens.auditor, `/v1/events?stream=node-${nodeId}&after=${after}`);
  try {
    expect(stream.status, JSON.stringify(stream.problem)).toBe(200);
    await stream.until(() => stream.events().length >= count, `${count} events`);
    return stream.events().map((e) => e.event);
  } finally {
    stream.close();
  }
};

describe('GET /v1/events on EventStoreDB, resuming after a position inside a record', () => {
  let standIn: StandIn;
  let svc: TestService;
  beforeAll(async () => {
    standIn = await startStandIn();
    svc = await startTestService({ config: { store: standIn.connectionString } });
  });
  afterAll(async () => {
    await svc?.close();
    await standIn?.stop();
  });

  it('is refused, 409 resume_point_not_in_log, where it skipped the event after it; an event\'s own position resumes after it', async () => {
    const registered = await registerAndRevoke(svc, 'gap-1');
    const inside = registered - 1n;
    for (const [path, headers] of [
      [`/v1/events?stream=node-gap-1&after=${inside}`, {}],
      ['/v1/events?stream=node-gap-1', { 'last-event-id': inside.toString(10) }],
    ] as const) {
      const refused = await openStream(svc.url, svc.tokens.auditor, path, headers);
      expect(refused.status).toBe(409);
      expect(refused.problem).toMatchObject({ type: expect.stringMatching(/resume_point_not_in_log$/), resumeAfter: inside.toString(10), head: expect.any(String) });
      expect(String(refused.problem!['detail'])).toContain(`cannot resume after ${inside}: no event of this log is at that position`);
    }
    expect(await eventsAfter(svc, 'gap-1', registered, 1)).toEqual(['NodeRevoked']);
  });

  it('is refused for a compliance page too, which pages through the same check', async () => {
    const registered = await registerAndRevoke(svc, 'gap-2');
    const refused = await request(svc.url, { path: `/v1/compliance/revocations?after=${registered - 1n}`, token: svc.tokens.auditor }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProblemResponse);
    expect((refused as ProblemResponse).status).toBe(409);
    expect((refused as ProblemResponse).problem).toMatchObject({ type: expect.stringMatching(/resume_point_not_in_log$/), resumeAfter: (registered - 1n).toString(10) });
    const page = await request(svc.url, { path: `/v1/compliance/revocations?after=${registered}`, token: svc.tokens.auditor });
    expect(page.status).toBe(200);
  });
});

describe('GET /v1/events on the embedded store, whose every position up to the head is an event\'s', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('resumes after the position before an event with that event, as before', async () => {
    const registered = await registerAndRevoke(svc, 'gap-1');
    expect(await eventsAfter(svc, 'gap-1', registered - 1n, 2)).toEqual(['NodeRegistered', 'NodeRevoked']);
  });
});

describe('the EventStoreDB store given a position inside a record', () => {
  const teardown = standInTeardown();

  const event = (type: string) => ({ id: crypto.randomUUID(), type, data: {}, metadata: {} });

  const open = async (onDropped?: (reason: string) => void) => {
    const standIn = await teardown.startStandIn();
    const store = teardown.hold(
      openEventStoreDbStore(standIn.connectionString, {
        resubscribe: { initialDelayMs: 1, maxDelayMs: 1 },
        ...(onDropped !== undefined ? { onSubscriptionDropped: (notice) => onDropped(notice.reason) } : {}),
      }),
    );
    await store.appendToStream('node-a', [event('A')], { expectedRevision: ExpectedRevision.noStream });
    const second = await store.appendToStream('node-b', [event('B')], { expectedRevision: ExpectedRevision.noStream });
    return { s: store, second: second.position };
  };

  const refusal = (error: unknown) => {
    expect(error).toBeInstanceOf(EventStoreDbError);
    expect((error as EventStoreDbError).transient).toBe(false);
    expect((error as Error).message).toMatch(/invalid position.*inside a record/);
  };

  it('refuses a read after it, at once, as not worth retrying', async () => {
    const { s, second } = await open();
    const read = async () => {
      const seen: RecordedEvent[] = [];
      for await (const e of s.readAll({ afterPosition: second - 1n })) seen.push(e);
      return seen;
    };
    refusal(await read().catch((e: unknown) => e));
    expect(await s.recordAt(second - 1n)).toBeUndefined();
    expect((await s.recordAt(second))?.streamId).toBe('node-b');
  });

  it('ends a subscription after it with the refusal, where it resubscribed for ever', async () => {
    let resubscribed: (reason: string) => void = () => undefined;
    const dropped = new Promise<never>((_, reject) => (resubscribed = (reason) => reject(new Error(`resubscribed after: ${reason}`))));
    const { s, second } = await open((reason) => resubscribed(reason));
    const subscription = s.subscribeToAll({ from: { kind: 'after', position: second - 1n } });
    const first = subscription[Symbol.asyncIterator]().next();
    refusal(await Promise.race([first, dropped]).catch((e: unknown) => e));
  });
});
