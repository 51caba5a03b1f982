import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExpectedRevision, type EventStore, type JsonObject } from '../domain/ports/event-store.ts';
import type { PublicScope } from '../projections/pseudonyms/index.ts';
import { dataOf, openStream, ops, profile, registrationMetadata, settled, type RawStream } from './http-sse.fixtures.ts';
import { useTestService, type TestService } from './support/service.ts';

/*
 * Review 120: the pseudonymised stream decoded every entity event before its kind filter and its token's scope were
 * applied, so one event a newer version wrote ended every pseudonymised stream at its position, whether it would
 * publish it or not: a `?kind=node` stream, and a stream scoped to `sub-a` at `sub-b`'s event (telling the sub-a
 * integrator where another stakeholder's event lies), on every reconnect until an upgrade. Now a stream passes over,
 * undecoded, what it neither publishes nor folds into its pseudonyms; one the identity fold reads still ends it.
 */

/** Issues an integrator token for `scope` through the service's API. */
const scopedToken = async (svc: TestService, scope: PublicScope): Promise<string> => {
  const issued = await fetch(`${svc.url}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.tokens.admin}` },
    body: JSON.stringify({ subject: `city-${randomUUID()}`, role: 'integrator', ttl: '1h', scope }),
  });
  expect(issued.status).toBe(201);
  return ((await issued.json()) as { token: string }).token;
};

/** A copy of `streamId`'s first event stored in `into` at schema version 99: what a newer version would have written. */
const appendAtVersion99 = async (store: EventStore, streamId: string, into: string, data: JsonObject): Promise<bigint> => {
  const [first] = await store.readStream(streamId);
  const metadata = { ...first!.metadata, commandId: randomUUID(), schemaVersion: 99 };
  const event = { id: randomUUID(), type: first!.type, data: { ...first!.data, ...data }, metadata };
  return (await store.appendToStream(into, [event], { expectedRevision: ExpectedRevision.noStream })).position;
};

/** Reads until the event at `position` arrives or the server ends the stream; the frames it got. */
const readUntil = async (svc: TestService, token: string, path: string, position: bigint): Promise<RawStream> => {
  const stream = await openStream(svc.url, token, path);
  expect(stream.status).toBe(200);
  try {
    const done = (): boolean => stream.events().some((e) => e.id?.split('~')[0] === String(position) || e.event === 'dropped');
    await stream.until(done, `the event at ${position} or the stream's end`);
  } finally {
    stream.close();
  }
  await stream.ended;
  return stream;
};

const droppedOf = (stream: RawStream): Record<string, unknown>[] => stream.events().flatMap((e) => (e.event === 'dropped' ? [dataOf(e)] : []));

describe("an event a newer version wrote in another stakeholder's subscription stream", () => {
  const svc = useTestService();
  let tooNew: bigint;
  let enrolled: bigint;
  let subA: string;

  beforeAll(async () => {
    const { engine, store } = svc.service.context.credence;
    await engine.execute(ops.createSubscription('sub-a'));
    await engine.execute(ops.registerNode('meter-a'));
    tooNew = await appendAtVersion99(store, 'subscription-sub-a', 'subscription-sub-b', { subscriptionId: 'sub-b' });
    enrolled = (await engine.execute(ops.enrolNode('meter-a', 'sub-a'))).events.find((e) => e.type === 'NodeEnrolled')!.position;
    await settled(svc);
    subA = await scopedToken(svc, { subscriptions: ['sub-a'] } as PublicScope);
  }, 30_000);

  it.each([
    ['the canonical ?kind=node stream', 'auditor', '/v1/events?kind=node'],
    ['the pseudonymised ?kind=node stream', 'integrator', '/v1/events?kind=node'],
    ['the ?kind=node stream of a token scoped to sub-a', 'sub-a', '/v1/events?kind=node'],
    ['the unfiltered stream of a token scoped to sub-a', 'sub-a', '/v1/events'],
  ])('does not end %s, which delivers the NodeEnrolled after it', async (_, who, path) => {
    const token = who === 'sub-a' ? subA : svc.tokens[who as 'auditor' | 'integrator'];
    const stream = await readUntil(svc, token, path, enrolled);
    expect(droppedOf(stream)).toEqual([]);
    expect(stream.events().find((e) => e.id?.split('~')[0] === String(enrolled))?.event).toBe('NodeEnrolled');
  });

  it.each([
    ['canonical', 'auditor'],
    ['pseudonymised', 'integrator'],
  ])('still ends the %s ?kind=subscription stream before it, which wants it', async (_, who) => {
    const stream = await readUntil(svc, svc.tokens[who as 'auditor' | 'integrator'], '/v1/events?kind=subscription', enrolled);
    expect(droppedOf(stream)).toMatchObject([{ reason: 'newer_event', position: String(tooNew) }]);
    expect(stream.events().every((e) => e.event === 'dropped' || BigInt(e.id!.split('~')[0]!) < tooNew)).toBe(true);
  });
});

describe('an event a newer version wrote that the pseudonym fold reads', () => {
  const svc = useTestService();
  let tooNew: bigint;
  let created: bigint;
  let subC: string;

  beforeAll(async () => {
    const { engine, store } = svc.service.context.credence;
    const metadata = { ...registrationMetadata(randomUUID()), schemaVersion: 99 };
    const event = { id: randomUUID(), type: 'NodeRegistered', data: { nodeId: 'meter-n', profile: profile() }, metadata };
    tooNew = (await store.appendToStream('node-meter-n', [event], { expectedRevision: ExpectedRevision.noStream })).position;
    created = (await engine.execute(ops.createSubscription('sub-c'))).events[0]!.position;
    await settled(svc);
    subC = await scopedToken(svc, { subscriptions: ['sub-c'] } as PublicScope);
  }, 30_000);

  it('does not end the canonical ?kind=subscription stream, whose filter leaves it out', async () => {
    const stream = await readUntil(svc, svc.tokens.auditor, '/v1/events?kind=subscription', created);
    expect(droppedOf(stream)).toEqual([]);
    expect(stream.events().find((e) => e.id?.split('~')[0] === String(created))?.event).toBe('SubscriptionCreated');
  });

  it.each([
    ['the unscoped', 'integrator'],
    ['a scoped', 'sub-c'],
  ])('ends %s pseudonymised ?kind=subscription stream before it: the pseudonyms after it would be wrong', async (_, who) => {
    const stream = await readUntil(svc, who === 'sub-c' ? subC : svc.tokens.integrator, '/v1/events?kind=subscription', created);
    expect(droppedOf(stream)).toMatchObject([{ reason: 'newer_event', position: String(tooNew) }]);
    expect(stream.events().some((e) => e.id?.split('~')[0] === String(created))).toBe(false);
  });
});
