import { afterAll, beforeAll, expect } from 'vitest';
import { eventIdFor } from '../../domain/event-ids.ts';
import { ExpectedRevision, type EventToAppend } from '../../domain/ports/index.ts';
import { body, openApi, settled } from '../http-conformance.fixtures.ts';
import { startTestService, type TestService } from './service.ts';

/** The longest time between two ticks of a 2 ms interval while `work` runs, and how long `work` took. */
export const longestBlockDuring = async <T>(work: () => Promise<T>): Promise<{ value: T; took: number; longestBlock: number }> => {
  let last = performance.now();
  let longestBlock = 0;
  const ticks = setInterval(() => {
    const now = performance.now();
    longestBlock = Math.max(longestBlock, now - last);
    last = now;
  }, 2);
  const start = performance.now();
  try {
    const value = await work();
    return { value, took: performance.now() - start, longestBlock: Math.max(longestBlock, performance.now() - last) };
  } finally {
    clearInterval(ticks);
  }
};

/**
 * Node `gw` with as many events as the service's bound allows (limits.maxEntityEvents), its events past enrolment
 * written straight to the store (pairs of NodeAssociated and its release, the operator's metadata), read models
 * caught up. Returns the stream's length.
 */
export const seedEntityAtTheBound = async (svc: TestService): Promise<number> => {
  const api = await openApi(svc);
  for (const payload of [body.createSubscription(), body.registerNode('gw'), body.enrolNode('gw')]) {
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload })).status).toBe(201);
  }
  await settled(svc);
  const store = svc.service.context.credence.store;
  const head = await store.readStream('node-gw');
  const { metadata } = head[head.length - 1]!;
  const pairs = Math.floor((svc.service.context.limits.maxEntityEvents - head.length) / 2);
  let revision = BigInt(head.length - 1);
  for (let from = 0; from < pairs; from += 500) {
    const batch: EventToAppend[] = [];
    for (let i = from; i < Math.min(pairs, from + 500); i++) {
      const data = { nodeId: 'gw', associationId: `a-${i}` };
      batch.push({ id: eventIdFor(`long-${i}`, 0), type: 'NodeAssociated', data, metadata }, { id: eventIdFor(`long-${i}`, 1), type: 'NodeAssociationReleased', data, metadata });
    }
    await store.appendToStream('node-gw', batch, { expectedRevision: ExpectedRevision.exact(revision) });
    revision += BigInt(batch.length);
  }
  await settled(svc);
  return Number(revision) + 1;
};

/**
 * A test service with node `gw` at the bound (seedEntityAtTheBound), started before the describe's tests and closed
 * after them: `svc` and `events` (the stream's length) are set once its beforeAll has run.
 */
export const useServiceWithEntityAtTheBound = (): { svc: TestService; events: number } => {
  const world = { events: 0 } as { svc: TestService; events: number };
  beforeAll(async () => {
    world.svc = await startTestService();
    world.events = await seedEntityAtTheBound(world.svc);
  }, 300_000);
  afterAll(async () => {
    await world.svc?.close();
  });
  return world;
};

/**
 * GET `path` with `token`, its body read as it arrives and decoded after: the client is in the service's process, and
 * reading megabytes as text in one call would be a block of its own.
 */
export const getLong = async (svc: TestService, path: string, token: string): Promise<{ status: number; type: string | null; text: () => string }> => {
  const reply = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const chunks: Uint8Array[] = [];
  for await (const chunk of reply.body!) chunks.push(chunk);
  return { status: reply.status, type: reply.headers.get('content-type'), text: () => Buffer.concat(chunks).toString('utf8') };
};
