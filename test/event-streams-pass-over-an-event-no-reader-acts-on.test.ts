import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExpectedRevision, type EventStore } from '../domain/ports/event-store.ts';
import { DroppedFrame } from '../adapters/http/sse/frame-schemas.ts';
import { decodeStored } from '../domain/stored.ts';
import { parseStreamId } from '../domain/streams.ts';
import { publicLifecycle, type PublicScope } from '../projections/pseudonyms/index.ts';
import { decodeOnce } from '../projections/runtime/read-page.ts';
import { dataOf, openStream, ops, profile, registrationMetadata, settled, type RawStream } from './http-sse.fixtures.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 79, finding 1: one stored event the server cannot read ended every SSE lifecycle stream at its position with
 * `dropped: error`, and every reconnect with Last-Event-ID met it again, while the projections, the identity fold and
 * the library's publicLifecycle pass over it (README: an event outside its entity's stream is one "no read model,
 * reaction or subscriber acts on"). Now the streams pass over it as those readers do, and the service logs it once.
 *
 * Review 85, finding 2: an event a newer version wrote (here schemaVersion 99) was passed over too, so after a
 * downgrade a client resuming with Last-Event-ID moved past it and never got it once the server was upgraded. The
 * streams now end before it with `event: dropped` of reason `newer_event`, on every resume, until an upgrade.
 */

const svc = useTestService();

/** One event stored outside its entity's stream (passed over), and, later, one at a schema version this build lacks. */
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
  for (const step of [ops.createSubscription('sub-02'), ops.registerNode('meter-02'), ops.enrolNode('meter-02', 'sub-01')]) await engine.execute(step);
  // Then one a newer version wrote, and events after it that no stream of this version may deliver past it.
  tooNew = await append(store, 'node-meter-97', 'meter-97', 99);
  for (const step of [ops.createSubscription('sub-03'), ops.registerNode('meter-03'), ops.enrolNode('meter-03', 'sub-01')]) await engine.execute(step);
  await settled(svc);
  const issued = await fetch(`${svc.url}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.tokens.admin}` },
    body: JSON.stringify({ subject: 'city-01', role: 'integrator', ttl: '1h', scope }),
  });
  expect(issued.status).toBe(201);
  scopedToken = ((await issued.json()) as { token: string }).token;
}, 30_000);

/** What the projections act on: every lifecycle event of an entity stream that decodes, before the newer one. */
const canonicalPositions = async (after = 0n): Promise<string[]> => {
  const positions: string[] = [];
  for await (const record of svc.service.context.credence.store.readAll({ afterPosition: after })) {
    if (record.position >= tooNew) break;
    // A pseudonym's stream is told only to an auditor who resolved it (review 223).
    const kind = parseStreamId(record.streamId)?.kind;
    if (kind !== undefined && kind !== 'pseudonym' && decodeOnce(record) !== undefined) positions.push(String(record.position));
  }
  return positions;
};

/** What the library's pseudonymised stream publishes before it errors at the newer event (which it must). */
const libraryPositions = async (options: { afterPosition?: bigint; scope?: PublicScope }): Promise<string[]> => {
  const { store, pseudonyms } = svc.service.context.credence;
  const positions: string[] = [];
  const error = await new Promise<unknown>((resolve) => {
    publicLifecycle(store, pseudonyms!.deriver, { ...options, live: false }).subscribe({
      next: (e) => void positions.push(String(e.position)),
      error: resolve,
      complete: () => resolve(undefined),
    });
  });
  expect(error).toMatchObject({ code: 'newer_event', position: tooNew });
  return positions;
};

/** Reads a stream until the server ends it (it must), then checks it ended before the newer event. */
const readToTheEnd = async (token: string, headers: Record<string, string> = {}, path = '/v1/events'): Promise<RawStream> => {
  const stream = await openStream(svc.url, token, path, headers);
  expect(stream.status).toBe(200);
  try {
    // A stream that passed over it would go on live: the hang guard fails it, naming what it waited for.
    const ended = (): boolean => stream.events().some((e) => e.event === 'dropped') && stream.frames.at(-1)?.kind === 'retry';
    await stream.until(ended, 'the stream to end before the newer event');
  } finally {
    stream.close();
  }
  await stream.ended;
  const dropped = stream.events().filter((e) => e.event === 'dropped');
  expect(dropped).toHaveLength(1);
  // It sends no id of its own: the client's last event id stays on the last event it received (or where it started).
  const delivered = ids(stream);
  if (delivered.length > 0) expect(dropped[0]!.id.split('~')[0]).toBe(delivered.at(-1));
  expect(dropped[0]!.id.split('~')[0]).not.toBe(String(tooNew));
  expect(dataOf(dropped[0]!)).toMatchObject({ reason: 'newer_event', position: String(tooNew), retryMs: 300_000 });
  expect(String(dataOf(dropped[0]!)['message'])).toContain('newer version of Credence');
  // As the OpenAPI document describes it.
  expect(DroppedFrame.safeParse(dataOf(dropped[0]!)).success).toBe(true);
  expect(stream.frames.at(-1)).toEqual({ kind: 'retry', ms: 300_000 });
  return stream;
};

/** The positions of the lifecycle events a stream delivered (not its dropped frame), from their ids (`<position>~<tag>`). */
const ids = (stream: RawStream): string[] => stream.events().flatMap((e) => (e.event === 'dropped' ? [] : [e.id.split('~')[0]!]));

describe('an event no reader acts on, and one a newer version wrote, on the event streams', () => {
  it('are told apart: one stored outside its entity stream, one at a schema version above this build', async () => {
    const { store } = svc.service.context.credence;
    const records = new Map<bigint, Parameters<typeof decodeStored>[0]>();
    for await (const record of store.readAll({})) records.set(record.position, record);
    expect(decodeStored(records.get(misplaced)!)).toMatchObject({ ok: false, misplaced: true });
    expect(decodeStored(records.get(misplaced)!)).not.toHaveProperty('newer');
    expect(decodeStored(records.get(tooNew)!)).toMatchObject({ ok: false, newer: true, reason: expect.stringContaining('newer than this build knows') });
    const all = await canonicalPositions();
    expect(all).not.toContain(String(misplaced));
    expect(all.filter((p) => BigInt(p) > misplaced).length).toBeGreaterThan(0);
    // Events come after the newer one: a stream that passed over it would deliver them.
    expect((await store.headPosition())! > tooNew + 2n).toBe(true);
  });

  it("the auditor's canonical stream passes over the first and ends before the newer one, not past it", async () => {
    const stream = await readToTheEnd(svc.tokens.auditor);
    expect(ids(stream)).toEqual(await canonicalPositions());
    expect(ids(stream).every((id) => BigInt(id) < tooNew)).toBe(true);
  });

  it('a canonical stream resumed with Last-Event-ID before them passes over the first and ends before the newer one again', async () => {
    const expected = await canonicalPositions(before);
    expect(expected[0]).not.toBe(String(misplaced));
    const stream = await readToTheEnd(svc.tokens.auditor, { 'last-event-id': String(before) });
    expect(ids(stream)).toEqual(expected);
    // Resumed after the last event it received, it meets the newer event at once: never moved past it.
    const again = await readToTheEnd(svc.tokens.auditor, { 'last-event-id': expected.at(-1)! });
    expect(ids(again)).toEqual([]);
  });

  it("an unscoped pseudonymised stream does as the library's publicLifecycle does", async () => {
    const expected = await libraryPositions({});
    expect(expected.length).toBeGreaterThan(3);
    const stream = await readToTheEnd(svc.tokens.integrator);
    expect(ids(stream)).toEqual(expected);
  });

  it("a scoped integrator's stream gets its stakeholder's events between them, fresh and resumed, and stops before the newer one", async () => {
    const expected = await libraryPositions({ scope });
    // meter-02's enrolment under sub-01, after the event passed over, is in the scope.
    expect(expected.filter((p) => BigInt(p) > misplaced).length).toBeGreaterThan(0);
    const fresh = await readToTheEnd(scopedToken);
    expect(ids(fresh)).toEqual(expected);
    const resumed = await readToTheEnd(scopedToken, { 'last-event-id': String(before) });
    expect(ids(resumed)).toEqual(await libraryPositions({ scope, afterPosition: before }));
    expect(ids(resumed).length).toBeGreaterThan(0);
  });

  it('a pseudonymised stream starting past the newer event ends at once: its identity fold cannot read it', async () => {
    const stream = await readToTheEnd(svc.tokens.integrator, {}, '/v1/events?from=end');
    expect(ids(stream)).toEqual([]);
  });

  it('the first is logged at warn once, and the newer one once however many streams ended before it, with position and reason, none of the data', async () => {
    const lines = svc
      .logs()
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => typeof line['msg'] === 'string' && /event stream (passed over|ended before)/.test(line['msg']));
    const passedOver = lines.filter((l) => l['msg'] === 'event stream passed over an event it cannot read');
    expect(passedOver.map((l) => [l['level'], l['position']])).toEqual([[40, String(misplaced)]]);
    expect(passedOver[0]!['reason']).toContain('stored in node-meter-98');
    const ended = lines.filter((l) => l['msg'] === 'event stream ended before an event a newer version wrote, which this version cannot read');
    // Once for the event, not once per stream ended there (7 above: 3 canonical, 1 unscoped and 2 scoped
    // pseudonymised, 1 from the end), nor per reconnect (review 86: one line a minute per console, for good).
    expect(ended).toHaveLength(1);
    for (const line of ended) expect(line).toMatchObject({ level: 40, position: String(tooNew), streamId: 'node-meter-97', reason: expect.stringContaining('v99') });
    for (const line of lines) expect(JSON.stringify(line)).not.toContain('smart-meter');
  });
});
