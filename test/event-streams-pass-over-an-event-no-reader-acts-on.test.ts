import { randomUUID } from 'node:crypto';
import { firstValueFrom, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExpectedRevision, type EventStore } from '../domain/ports/event-store.ts';
import { decodeStored } from '../domain/stored.ts';
import { parseStreamId } from '../domain/streams.ts';
import { publicLifecycle, type PublicScope } from '../projections/pseudonyms/index.ts';
import { decodeOnce } from '../projections/runtime/read-page.ts';
import { openStream, ops, profile, registrationMetadata, settled, type RawStream } from './http-sse.fixtures.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 79, finding 1: one stored event the server cannot read ended every SSE lifecycle stream at its position with
 * `dropped: error`, and every reconnect with Last-Event-ID met it again, while the projections, the identity fold and
 * the library's publicLifecycle pass over it (README: an event outside its entity's stream is one "no read model,
 * reaction or subscriber acts on"). Now the streams pass over it as those readers do, and the service logs it once.
 */

const svc = useTestService();

/** The stored events a stream passes over: one outside its entity's stream, one at a schema version this build lacks. */
let misplaced: bigint;
let tooNew: bigint;
/** The last position before them, where a client that had read up to there resumes. */
let before: bigint;
let scopedToken: string;
const scope: PublicScope = { subscriptions: ['sub-01'] } as PublicScope;

const append = async (store: EventStore, streamId: string, nodeId: string, schemaVersion?: number): Promise<bigint> => {
  const metadata = { ...registrationMetadata(randomUUID()), ...(schemaVersion === undefined ? {} : { schemaVersion }) };
  const event = { id: randomUUID(), type: 'NodeRegistered', data: { nodeId, profile: profile() }, metadata };
  return (await store.appendToStream(streamId, [event], { expectedRevision: ExpectedRevision.noStream })).position;
};

beforeAll(async () => {
  const { engine, store } = svc.service.context.credence;
  for (const step of [ops.createSubscription('sub-01'), ops.registerNode('meter-01'), ops.enrolNode('meter-01', 'sub-01')]) await engine.execute(step);
  before = (await store.headPosition())!;
  // Another node's registration stored in the stream of node meter-98: readable, but no fact of either lifecycle.
  misplaced = await append(store, 'node-meter-98', 'meter-99');
  tooNew = await append(store, 'node-meter-97', 'meter-97', 99);
  for (const step of [ops.createSubscription('sub-02'), ops.registerNode('meter-02'), ops.enrolNode('meter-02', 'sub-01')]) await engine.execute(step);
  await settled(svc);
  const issued = await fetch(`${svc.url}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.tokens.admin}` },
    body: JSON.stringify({ subject: 'city-01', role: 'integrator', ttl: '1h', scope }),
  });
  expect(issued.status).toBe(201);
  scopedToken = ((await issued.json()) as { token: string }).token;
}, 30_000);

/** What the projections act on: every lifecycle event of an entity stream that decodes. */
const canonicalPositions = async (after = 0n): Promise<string[]> => {
  const positions: string[] = [];
  for await (const record of svc.service.context.credence.store.readAll({ afterPosition: after })) {
    if (parseStreamId(record.streamId) !== undefined && decodeOnce(record) !== undefined) positions.push(String(record.position));
  }
  return positions;
};

/** What the library's pseudonymised stream publishes, to the head. */
const libraryPositions = async (options: { afterPosition?: bigint; scope?: PublicScope }): Promise<string[]> => {
  const { store, pseudonyms } = svc.service.context.credence;
  const events = await firstValueFrom(publicLifecycle(store, pseudonyms!.deriver, { ...options, live: false }).pipe(toArray()));
  return events.map((e) => String(e.position));
};

/** Reads a live stream until it has delivered `last` (or ended, which fails), then closes it. */
const readUpTo = async (token: string, last: string, headers: Record<string, string> = {}, path = '/v1/events'): Promise<RawStream> => {
  const stream = await openStream(svc.url, token, path, headers);
  expect(stream.status).toBe(200);
  try {
    await stream.until(() => stream.events().some((e) => e.id === last), `event ${last}`);
  } finally {
    stream.close();
    await stream.ended;
  }
  return stream;
};

const ids = (stream: RawStream): string[] => stream.events().map((e) => e.id);

describe('an event no reader acts on, on the event streams', () => {
  it('is one the projections pass over: stored outside its entity stream, or at a schema version without an upcaster', async () => {
    const { store } = svc.service.context.credence;
    const records = new Map<bigint, Parameters<typeof decodeStored>[0]>();
    for await (const record of store.readAll({})) records.set(record.position, record);
    expect(decodeStored(records.get(misplaced)!)).toMatchObject({ ok: false, misplaced: true });
    expect(decodeStored(records.get(tooNew)!)).toMatchObject({ ok: false, reason: expect.stringContaining('newer than this build knows') });
    const all = await canonicalPositions();
    expect(all).not.toContain(String(misplaced));
    expect(all.filter((p) => BigInt(p) > tooNew).length).toBeGreaterThan(0);
  });

  it("is passed over by the auditor's canonical stream, which goes on to the head with no dropped frame", async () => {
    const expected = await canonicalPositions();
    const stream = await readUpTo(svc.tokens.auditor, expected.at(-1)!);
    expect(ids(stream)).toEqual(expected);
    expect(stream.events().filter((e) => e.event === 'dropped')).toEqual([]);
  });

  it('is passed over again by a canonical stream resumed with Last-Event-ID before it', async () => {
    const expected = await canonicalPositions(before);
    expect(expected[0]).not.toBe(String(misplaced));
    const stream = await readUpTo(svc.tokens.auditor, expected.at(-1)!, { 'last-event-id': String(before) });
    expect(ids(stream)).toEqual(expected);
  });

  it("is passed over by an unscoped pseudonymised stream, as by the library's publicLifecycle", async () => {
    const expected = await libraryPositions({});
    expect(expected.length).toBeGreaterThan(3);
    const stream = await readUpTo(svc.tokens.integrator, expected.at(-1)!);
    expect(ids(stream)).toEqual(expected);
  });

  it("is passed over by a scoped integrator's stream, which gets its stakeholder's later events, fresh and resumed", async () => {
    const expected = await libraryPositions({ scope });
    // meter-02's enrolment under sub-01, after the events passed over, is in the scope.
    expect(expected.filter((p) => BigInt(p) > tooNew).length).toBeGreaterThan(0);
    const fresh = await readUpTo(scopedToken, expected.at(-1)!);
    expect(ids(fresh)).toEqual(expected);
    const resumed = await readUpTo(scopedToken, expected.at(-1)!, { 'last-event-id': String(before) });
    expect(ids(resumed)).toEqual(await libraryPositions({ scope, afterPosition: before }));
    expect(ids(resumed).length).toBeGreaterThan(0);
  });

  it('is logged at warn once, with its position and reason and none of its data', async () => {
    // Every stream above passed over both events; each is logged once.
    const lines = svc
      .logs()
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line['msg'] === 'event stream passed over an event it cannot read');
    expect(lines.map((l) => [l['level'], l['position']])).toEqual([
      [40, String(misplaced)],
      [40, String(tooNew)],
    ]);
    expect(lines[0]!['reason']).toContain('stored in node-meter-98');
    expect(lines[1]!['reason']).toContain('newer than this build knows');
    for (const line of lines) expect(JSON.stringify(line)).not.toContain('smart-meter');
  });
});
