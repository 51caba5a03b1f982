import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../adapters/client/http.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { identitiesUpTo } from '../projections/pseudonyms/index.ts';
import { appendRegisteredNodes, openStream, settled, type RawStream } from './http-sse.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

/*
 * Review 160 item 1: on an EventStoreDB cluster shared with another application, `from=end` opened at the newest
 * record of $all, whoever wrote it, and the shared identity fold was kept at that position. Another application's
 * records leave $all once their stream is deleted or trimmed and the server scavenges (docs/eventstoredb.md). Then a
 * client resuming with the id it was given got 409 saying the position was never handed out, and every pseudonymised
 * stream opening at or after it failed (`dropped`, error) until a restart: the fold read on after the vanished record
 * (INVALID_ARGUMENT: Trying to read from an invalid position). Now resume points handed out and the kept fold name
 * Credence's records only, a fold whose kept position cannot be read from folds from the start, and the 409 for a
 * position no Credence record holds says what it may be.
 */

const registerNode = async (svc: TestService, nodeId: string): Promise<bigint> => {
  const body = {
    type: 'registerNode',
    data: { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] }, bootstrapCredentialId: `${nodeId}-boot` },
  };
  const registered = await request<{ events: { position: string }[] }>(svc.url, { path: '/v1/commands', token: svc.tokens.operator, body });
  expect(registered.status).toBe(201);
  await settled(svc);
  return BigInt(registered.body.events[0]!.position);
};

/** What another application writes to the shared cluster: a stream of its own, after Credence's events. */
const foreignRecord = (standIn: StandIn, streamId: string): bigint => {
  const appended = standIn.log.append(streamId, { kind: 'any' }, [
    { id: randomUUID(), type: 'OrderPlaced', contentType: 'application/json', data: Buffer.from('{"order":1}'), customMetadata: new Uint8Array() },
  ]);
  if (appended.kind !== 'success' || appended.position === undefined) throw new Error('the foreign record was not appended');
  return appended.position;
};

/** The newest record of $all in a stream Credence writes (an entity's), as the stand-in holds it. */
const newestCredenceRecord = (standIn: StandIn): bigint =>
  standIn.log.all.findLast((e) => /^(node|credential|association|application|subscription|pseudonym)-/.test(e.streamId))!.position;

/** The store under an identity of its own: no fold kept over `store` is known to it. */
const unshared = (store: EventStore): EventStore =>
  ({
    appendToStream: (...a) => store.appendToStream(...a),
    readStream: (...a) => store.readStream(...a),
    readAll: (...a) => store.readAll(...a),
    subscribeToAll: (...a) => store.subscribeToAll(...a),
    headPosition: () => store.headPosition(),
  }) as EventStore;

/** The position a stream says it starts after: its first frame's `id:`. */
const openingId = async (stream: RawStream): Promise<string> => {
  await stream.until(() => stream.frames.some((f) => f.kind === 'id' || f.kind === 'event'), 'the opening id');
  const first = stream.frames.find((f) => f.kind === 'id' || f.kind === 'event')!;
  return (first as { id: string }).id;
};

/** Opens a pseudonymised stream and proves it serves: the next node registered reaches it, and nothing dropped it. */
const servesTheNextEvent = async (svc: TestService, path: string, headers: Record<string, string>, nodeId: string): Promise<void> => {
  const stream = await openStream(svc.url, svc.tokens.integrator, path, headers);
  try {
    expect(stream.status, JSON.stringify(stream.problem)).toBe(200);
    await openingId(stream);
    await registerNode(svc, nodeId);
    await stream.until(() => stream.events().some((e) => e.event === 'NodeRegistered' || e.event === 'dropped'), 'NodeRegistered');
    expect(stream.events().map((e) => e.event)).not.toContain('dropped');
  } finally {
    stream.close();
  }
};

describe('integrator streams on an EventStoreDB cluster shared with another application that scavenges its records', () => {
  let standIn: StandIn;
  let svc: TestService;
  beforeAll(async () => {
    standIn = await startStandIn();
    svc = await startTestService({ config: { store: standIn.connectionString } });
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
    await standIn?.stop();
  });

  it('opens from=end after the newest Credence event, not the other application\'s record after it, and that id resumes once the record is scavenged', async () => {
    await registerNode(svc, 'shared-1');
    const own = newestCredenceRecord(standIn);
    const foreign = foreignRecord(standIn, `orders-${randomUUID()}`);
    expect(foreign).toBeGreaterThan(own);

    const opened = await openStream(svc.url, svc.tokens.integrator, '/v1/events?from=end');
    const id = await openingId(opened);
    opened.close();
    expect(id.split('~')[0]).toBe(own.toString(10));

    standIn.log.scavenge(standIn.log.all.find((e) => e.position === foreign)!.streamId);
    await servesTheNextEvent(svc, '/v1/events', { 'last-event-id': id }, 'shared-2');
  });

  it('serves every pseudonymised stream opened after the scavenge, where the fold read on from the vanished record', async () => {
    await registerNode(svc, 'shared-3');
    const orders = `orders-${randomUUID()}`;
    foreignRecord(standIn, orders);
    // Opened while the other application's record is the newest of $all, and served (its fold done): the fleet's
    // fold is kept for later streams.
    await servesTheNextEvent(svc, '/v1/events?from=end', {}, 'shared-3b');
    standIn.log.scavenge(orders);

    const later = await registerNode(svc, 'shared-4');
    await servesTheNextEvent(svc, '/v1/events?from=end', {}, 'shared-5');
    await servesTheNextEvent(svc, '/v1/events', { 'last-event-id': later.toString(10) }, 'shared-6');
  });

  it('keeps no fold at another application\'s record a stream resumed after (an id an earlier version handed out), so streams opened after its scavenge are served', async () => {
    await registerNode(svc, 'shared-8');
    const orders = `orders-${randomUUID()}`;
    const foreign = foreignRecord(standIn, orders);
    // Still in $all: resuming after it is served, and its fold done before the next event.
    await servesTheNextEvent(svc, '/v1/events', { 'last-event-id': foreign.toString(10) }, 'shared-9');
    standIn.log.scavenge(orders);

    const later = await registerNode(svc, 'shared-10');
    await servesTheNextEvent(svc, '/v1/events', { 'last-event-id': later.toString(10) }, 'shared-11');
  });

  it('refuses the position of a scavenged record of another application with a 409 that says so, not only "never handed out"', async () => {
    await registerNode(svc, 'shared-7');
    const orders = `orders-${randomUUID()}`;
    const foreign = foreignRecord(standIn, orders);
    standIn.log.scavenge(orders);

    const refused = await openStream(svc.url, svc.tokens.integrator, '/v1/events', { 'last-event-id': foreign.toString(10) });
    expect(refused.status).toBe(409);
    expect(refused.problem).toMatchObject({ type: expect.stringMatching(/resume_point_not_in_log$/), resumeAfter: foreign.toString(10) });
    const detail = String(refused.problem!['detail']);
    expect(detail).toMatch(/another application's record.*deleted.*scavenged/);
    // The honest way back: from=start misses nothing; from=end is said to skip what came meanwhile.
    expect(detail).toContain('from=start');
    expect(detail).toMatch(/from=end skips/);
  });
});

describe('the identity fold over EventStoreDB when the record a kept fold sits at leaves $all', () => {
  const teardown = standInTeardown();

  it('folds from the start instead of failing, and lets that kept fold go', async () => {
    const standIn = await teardown.startStandIn();
    const store = teardown.hold(openEventStoreDbStore(standIn.connectionString));
    await appendRegisteredNodes(store, 'kept', 3);
    await identitiesUpTo(store, (await store.headPosition())!);
    // Credence removes none of its records; whatever did, the fold kept there cannot be read on from any more.
    standIn.log.scavenge('node-kept-2');
    await appendRegisteredNodes(store, 'after', 1);
    const head = (await store.headPosition())!;

    const folded = (await identitiesUpTo(store, head))!;
    const whole = (await identitiesUpTo(unshared(store), head))!;
    expect(folded.size()).toEqual(whole.size());
    expect((await identitiesUpTo(store, head))!.size()).toEqual(whole.size());
  });
});
