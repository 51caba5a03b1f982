import { hash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStore, ReadAllOptions, RecordedEvent } from '../domain/ports/event-store.ts';
import { canonicalTagger } from '../adapters/http/sse/event-id.ts';
import { toldStartAtOrBelow } from '../adapters/http/sse/told-start.ts';
import { openStream, settled, type RawStream } from './http-sse.fixtures.ts';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 241: a canonical stream (operator, auditor) opened with `from=end` just after a pseudonym rotation named its
 * start with a bare position: the newest record, the rotation, is withheld from these roles (review 223), and its tag
 * would test a guessed event id. A console or `credence events` cut before its first event resumed with that bare
 * position, accepted unchecked, so on a store restored from a backup whose log had since grown past it the client
 * skipped events without a word, where a tagged id is refused (409). Now such a stream starts after the newest event
 * at or below the head that the caller is told, and names it with its tag; the events between it and the head are
 * withheld from the caller anyway. The integrator's stream already named the head with its keyed tag.
 */

let a: TestService;
let b: TestService;
let registered = 0;

const readAll = async (svc: TestService): Promise<RecordedEvent[]> => {
  const all: RecordedEvent[] = [];
  for await (const e of svc.service.context.credence.store.readAll()) all.push(e);
  return all;
};

const registerNodes = async (svc: TestService, prefix: string, count: number): Promise<void> => {
  for (let n = 1; n <= count; n++) await svc.service.context.credence.engine.execute(cmd.registerNode(`${prefix}-${n}`));
  await settled(svc);
};

/** The id a stream names as where it starts: the `id:` sent before any event. */
const openingId = async (s: RawStream): Promise<string> => {
  await s.until(() => s.frames.some((f) => f.kind === 'id' || f.kind === 'event'), 'the opening id');
  const first = s.frames.find((f) => f.kind === 'id' || f.kind === 'event') as { kind: string; id: string };
  expect(first.kind).toBe('id');
  return first.id;
};

/** Registers a node on A, whose rotation is then the head: the newest event an operator or auditor is told is its registration. */
const justAfterARotation = async (): Promise<{ readonly registration: RecordedEvent; readonly rotation: RecordedEvent }> => {
  await registerNodes(a, `meter-a${++registered}`, 1);
  const all = await readAll(a);
  const rotation = all.at(-1)!;
  const registration = all.filter((e) => !e.streamId.startsWith('pseudonym-')).at(-1)!;
  expect(rotation.type).toBe('PseudonymRotated');
  expect(registration.type).toBe('NodeRegistered');
  return { registration, rotation };
};

const fromEnd = async (svc: TestService, token: string): Promise<string> => {
  const s = await openStream(svc.url, token, '/v1/events?from=end');
  try {
    expect(s.status, JSON.stringify(s.problem)).toBe(200);
    return await openingId(s);
  } finally {
    s.close();
  }
};

beforeAll(async () => {
  [a, b] = await Promise.all([startTestService(), startTestService()]);
  await registerNodes(a, 'meter-a', 2);
  // The restored store: another log, grown past A's head.
  await registerNodes(b, 'meter-b', 20);
}, 60_000);
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

describe.each(['operator', 'auditor'] as const)("the %s's canonical stream from the end, just after a rotation", (role) => {
  it("names as its start the newest event it tells, with that event's tag", async () => {
    const { registration } = await justAfterARotation();
    const id = await fromEnd(a, a.tokens[role]);
    expect(id).toMatch(/^[1-9][0-9]*~[0-9a-f]{8}$/);
    expect(id).toBe(`${registration.position}~${hash('sha256', registration.id, 'hex').slice(0, 8)}`);
  });

  it('is refused (409) where that id is resumed on a store restored from another log, which a bare position skipped past', async () => {
    const { rotation } = await justAfterARotation();
    const id = await fromEnd(a, a.tokens[role]);
    expect((await b.service.context.credence.store.headPosition())!).toBeGreaterThan(rotation.position);
    const refused = await openStream(b.url, b.tokens[role], '/v1/events', { 'last-event-id': id });
    refused.close();
    expect(refused.status).toBe(409);
    expect(refused.problem).toMatchObject({ type: expect.stringMatching(/resume_point_not_in_log$/) });
    expect(BigInt(id.split('~')[0]!)).toBeLessThan(rotation.position);
  });

  it('resumes on its own log after that id with the next event it is told: nothing repeated, the rotation still withheld', async () => {
    const { rotation } = await justAfterARotation();
    const id = await fromEnd(a, a.tokens[role]);
    const s = await openStream(a.url, a.tokens[role], '/v1/events', { 'last-event-id': id });
    try {
      expect(s.status).toBe(200);
      expect(await openingId(s)).toBe(id);
      const subscription = `sub-after-${role}`;
      await a.service.context.credence.engine.execute(cmd.createSubscription(subscription, '2030-01-01T00:00:00.000Z'));
      await s.until(() => s.events().length > 0, 'the next event');
      const first = JSON.parse(s.events()[0]!.data) as { streamId: string };
      expect(first.streamId).toBe(`subscription-${subscription}`);
      expect(s.events().some((e) => e.id.split('~')[0] === rotation.position.toString(10))).toBe(false);
    } finally {
      s.close();
    }
    await settled(a);
  });
});

describe("the integrator's pseudonymised stream from the end, just after a rotation", () => {
  it('names the head with its keyed tag, which a store of another log refuses (as before)', async () => {
    await registerNodes(a, 'meter-c', 1);
    const head = (await readAll(a)).at(-1)!;
    expect(head.type).toBe('PseudonymRotated');
    const id = await fromEnd(a, a.tokens.integrator);
    expect(id).toMatch(new RegExp(`^${head.position}~[0-9a-f]{8}$`));
    const refused = await openStream(b.url, b.tokens.integrator, '/v1/events', { 'last-event-id': id });
    refused.close();
    expect(refused.status).toBe(409);
  });
});

describe('a canonical stream from the end of an empty log', () => {
  it('names position 0, which resumes from the start of any log and so skips nothing', async () => {
    const empty = await startTestService();
    try {
      expect(await empty.service.context.credence.store.headPosition()).toBeUndefined();
      expect(await fromEnd(empty, empty.tokens.operator)).toBe('0');
    } finally {
      await empty.close();
    }
  });
});

describe('how far back the start is looked for', () => {
  /** A log of `count` records, withheld but at the positions in `told`, read as a gapless store (or not) reads it. */
  const logOf = (count: number, told: readonly number[], gapless = true): EventStore => {
    const records = Array.from(
      { length: count },
      (_, i) =>
        (told.includes(i + 1)
          ? { position: BigInt(i + 1), id: `event-${i + 1}`, streamId: 'node-x', type: 'NodeRegistered' }
          : { position: BigInt(i + 1), id: `event-${i + 1}`, streamId: 'pseudonym-p', type: 'PseudonymRotated' }) as RecordedEvent,
    );
    return {
      gapless,
      async *readAll(options: ReadAllOptions = {}) {
        const from = Number(options.afterPosition ?? 0n);
        const types = options.filter?.eventTypes;
        const after = records.slice(from).filter((r) => types === undefined || types.includes(r.type));
        yield* after.slice(0, options.maxCount ?? count);
      },
    } as unknown as EventStore;
  };
  const tells = async (record: RecordedEvent): Promise<boolean> => !record.streamId.startsWith('pseudonym-');

  it('finds the newest told event past a run of withheld ones, across pages', async () => {
    const start = await toldStartAtOrBelow(logOf(1_000, [3, 400]), 1_000n, tells, canonicalTagger);
    expect(start).toEqual({ from: 400n, id: `400~${canonicalTagger('event-400')}` });
  });

  it('names 0 where nothing up to the head is told, searches past its look-back by type, and gives up on a store that is not gapless', async () => {
    expect(await toldStartAtOrBelow(logOf(600, []), 600n, tells, canonicalTagger)).toEqual({ from: 0n, id: '0' });
    expect(await toldStartAtOrBelow(logOf(20_000, [1]), 20_000n, tells, canonicalTagger)).toEqual({ from: 1n, id: `1~${canonicalTagger('event-1')}` });
    expect(await toldStartAtOrBelow(logOf(10, [3], false), 10n, tells, canonicalTagger)).toBeUndefined();
  });
});
