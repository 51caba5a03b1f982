import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import type { ServiceContext } from '../adapters/http/context.ts';
import { HttpProblem } from '../adapters/http/problems.ts';
import { replayWithinEntityRecordBound } from '../adapters/http/routes/entity-bound.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/event-store.ts';
import { EntityReplayReadsTooMuch, replayEntity } from '../projections/replay/entity.ts';
import { dataDirs } from './replay.fixtures.ts';
import { body, openApi, settled } from './http-conformance.fixtures.ts';
import { startTestService } from './support/service.ts';
import { cmd, T0 } from './support/fleet.ts';

/*
 * Review 420, finding 4: one entity's replay read every fact stream it consulted whole, whatever the entity bound: with
 * 200,000 records on node-meter-1 after cred-1's events, the credential's replay (2 steps) read all 200,002 records of
 * its node. A fact stream is now read only up to the event that reads it (a page past it), and the records read of
 * every stream together are held to the entity record bound, past which the route's 422 names the fact stream.
 */

/** `count` records on `streamId` (claims of a command of another entity: records the node's replay passes over). */
const pile = async (store: EventStore, streamId: string, count: number): Promise<void> => {
  for (let done = 0; done < count; done += 1_000) {
    const last = (await store.readStream(streamId)).at(-1);
    const events = Array.from({ length: Math.min(1_000, count - done) }, () => ({
      id: randomUUID(), type: FACT_CLAIM_TYPE, data: { claimant: 'credential-cred-9', commandId: randomUUID() }, metadata: {},
    }));
    await store.appendToStream(streamId, events, { expectedRevision: ExpectedRevision.after(last?.revision) });
  }
};

/** The store, with the records each stream's reads returned counted. */
const counting = (store: EventStore): { store: EventStore; read: Map<string, number> } => {
  const read = new Map<string, number>();
  const spied = new Proxy(store, {
    get(target, name, receiver) {
      if (name !== 'readStream') {
        const value = Reflect.get(target, name, receiver) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (streamId: string, options?: Parameters<EventStore['readStream']>[1]) => {
        const records = await target.readStream(streamId, options);
        read.set(streamId, (read.get(streamId) ?? 0) + records.length);
        return records;
      };
    },
  });
  return { store: spied, read };
};

const provisioned = async (store: EventStore): Promise<void> => {
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) {
    await engine.execute(c);
  }
};

describe("one entity's replay reads a fact stream only up to the event that reads it", () => {
  const dataDir = dataDirs('credence-entity-replay-reads-');

  it("a credential's replay reads no more of its node than the page past its own events", async () => {
    const base = openSqliteStoreInDir(dataDir());
    try {
      await provisioned(base);
      await pile(base, 'node-meter-1', 5_000);
      const { store, read } = counting(base);
      const replay = await replayEntity(store, 'credential-cred-1');
      expect(replay.steps.map((s) => [s.type, s.accepted])).toEqual([['CredentialIssued', true], ['CredentialProvisioned', true]]);
      expect(replay.verdict).toEqual({ ok: true });
      // One page of the node (500 records a read) holds its 2 events and records past them: not its 5,002 records.
      expect(read.get('node-meter-1')).toBeLessThanOrEqual(503);
      expect([...read.values()].reduce((a, b) => a + b, 0)).toBeLessThan(600);
    } finally {
      await base.close();
    }
  }, 60_000);

  it('a fact stream read past the record bound is refused, naming it: by the replay, and by the route as a 422', async () => {
    const store = openSqliteStoreInDir(dataDir());
    try {
      const engine = createEngine({ store, clock: new FakeClock(T0) });
      for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(c);
      // 1,500 claims on the node before its credential is issued: its issue reads them, uncounted (a subscription's
      // stream on EventStoreDB holds one per node enrolled, review 423).
      await pile(store, 'node-meter-1', 1_500);
      for (const c of [cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) await engine.execute(c);

      // The credential's 2 records, the node's 2 lifecycle events and its subscription's 1: 5, whatever the claims.
      await expect(replayEntity(store, 'credential-cred-1', undefined, { maxRecords: 5 })).resolves.toBeDefined();
      const refused = await replayEntity(store, 'credential-cred-1', undefined, { maxRecords: 3 }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(EntityReplayReadsTooMuch);
      expect(refused).toMatchObject({ entity: 'credential-cred-1', streamId: 'node-meter-1', maxRecords: 3 });

      const context = { limits: { maxEntityEvents: 3, maxEntityRecords: 3 } } as unknown as ServiceContext;
      const problem = await replayWithinEntityRecordBound(context, 'replay it with the fleet', (maxRecords) => replayEntity(store, 'credential-cred-1', undefined, { maxRecords })).catch(
        (e: unknown) => e,
      );
      expect(problem).toBeInstanceOf(HttpProblem);
      expect(problem).toMatchObject({ status: 422, code: 'entity_too_long', extensions: { streamId: 'node-meter-1', entity: 'credential-cred-1', maxRecords: 3 } });
      expect((problem as HttpProblem).message).toContain('by its read of node-meter-1');
    } finally {
      await store.close();
    }
  }, 60_000);

  it('GET /v1/replay/{kind}/{id} holds the fact streams its events read to the record bound: a 422 naming the stream', async () => {
    // The credential's 2 events and its node's 2 read past a bound of 3 records.
    const svc = await startTestService({ config: { limits: { maxEntityEvents: 3, maxEntityRecords: 3 } } });
    try {
      const api = await openApi(svc);
      const send = async (payload: unknown): Promise<void> => {
        const reply = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload });
        expect(reply.status, JSON.stringify(reply.body)).toBe(201);
      };
      for (const payload of [body.createSubscription('sub-1'), body.registerNode('meter-1'), body.enrolNode('meter-1', 'sub-1')]) await send(payload);
      for (const payload of [body.issueCredential('cred-1', 'meter-1'), body.provisionCredential('cred-1')]) await send(payload);
      await settled(svc);
      const refused = await api.call<{ type: string; streamId: string; detail: string }>('GET', '/v1/replay/{kind}/{id}', { kind: 'credential', id: 'cred-1' }, { token: svc.tokens.auditor });
      expect(refused.status, JSON.stringify(refused.body)).toBe(422);
      expect(refused.body).toMatchObject({ type: 'https://credence.dev/problems/entity_too_long', streamId: 'node-meter-1' });
      expect(refused.body.detail).toContain('by its read of node-meter-1');
      // The same bound on the entity's own read (GET /v1/entities/{kind}/{id} replays it too).
      const entity = await api.call<{ type: string; streamId: string }>('GET', '/v1/entities/{kind}/{id}', { kind: 'credential', id: 'cred-1' }, { token: svc.tokens.auditor });
      expect(entity.status, JSON.stringify(entity.body)).toBe(422);
      expect(entity.body).toMatchObject({ type: 'https://credence.dev/problems/entity_too_long', streamId: 'node-meter-1' });
    } finally {
      await svc.close();
    }
  }, 120_000);
});
