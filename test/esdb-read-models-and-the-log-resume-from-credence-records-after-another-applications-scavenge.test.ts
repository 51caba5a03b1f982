import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from '../adapters/client/http.ts';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/sqlite-log.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { settled } from './http-sse.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 179: on an EventStoreDB cluster shared with another application, the read models and the transparency log
 * kept as their position whatever record of $all they handled last, another application's included. Once that record
 * was scavenged, a restart took the log for another log's (its newest leaf past the store's head) and refused every
 * outside command, and a dropped subscription resumed after a position the server refuses: the read models stayed at
 * that checkpoint for good. Now what is kept and resumed from is a record Credence wrote; others' are passed over.
 */

const registerNode = async (svc: TestService, nodeId: string): Promise<number> => {
  const body = {
    type: 'registerNode',
    data: { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] }, bootstrapCredentialId: `${nodeId}-boot` },
  };
  const registered = await request(svc.url, { path: '/v1/commands', token: svc.tokens.operator, body });
  return registered.status;
};

/** What another application writes to the shared cluster: a record of its own stream, the newest of $all. */
const foreignRecord = (standIn: StandIn, streamId: string): bigint => {
  const appended = standIn.log.append(streamId, { kind: 'any' }, [
    { id: randomUUID(), type: 'OrderPlaced', contentType: 'application/json', data: Buffer.from('{"order":1}'), customMetadata: new Uint8Array() },
  ]);
  if (appended.kind !== 'success' || appended.position === undefined) throw new Error('the foreign record was not appended');
  return appended.position;
};

/** Every read model and the log reached the store's head, each leaf logged once, each position once. */
const caughtUpOnce = async (svc: TestService): Promise<void> => {
  await settled(svc);
  const { credence } = svc.service.context;
  const head = await credence.store.headPosition();
  const log = credence.transparencyLog!.log;
  const positions = [...log.leaves()].map((l) => l.position);
  expect(new Set(positions).size).toBe(positions.length);
  expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  expect(credence.transparency!.stoppedOnAnotherLog).toBeUndefined();
  // Every Credence record the store holds is a leaf.
  const logged = new Set(positions);
  for await (const record of credence.store.readAll({})) {
    if (!record.streamId.startsWith('orders-')) expect(logged.has(record.position), `leaf for ${record.streamId}@${record.position}`).toBe(true);
  }
  for (const name of ['audit', 'entities']) {
    const checkpoint = credence.runner.checkpoint(name);
    if (checkpoint !== undefined) expect(await credence.runner.lag(name)).toMatchObject({ eventsBehind: 0 });
  }
  expect(head).toBeDefined();
};

/**
 * A service on a fresh stand-in (in `dir` when given) with one node registered, then another application's record
 * appended as the newest of $all and handled: the state every case scavenges from.
 */
const servedWithAForeignRecordLast = async (
  nodeId: string,
  dir?: string,
): Promise<{ standIn: StandIn; svc: TestService; orders: string; foreign: bigint }> => {
  const standIn = await startStandIn();
  const svc = await startTestService({ ...(dir !== undefined ? { dir } : {}), config: { store: standIn.connectionString } });
  expect(await registerNode(svc, nodeId)).toBe(201);
  await settled(svc);
  const orders = `orders-${randomUUID()}`;
  const foreign = foreignRecord(standIn, orders);
  await settled(svc);
  return { standIn, svc, orders, foreign };
};

/** No component of the live runtime is left failing. */
const noneFailing = async (svc: TestService): Promise<void> => {
  const failing = (await svc.service.context.live.status()).filter((c) => c.error !== undefined);
  expect(failing).toEqual([]);
};

describe('read models and the transparency log on a cluster whose other application scavenges its records', () => {
  let standIn: StandIn | undefined;
  let svc: TestService | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await svc?.close();
    await standIn?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    svc = undefined;
    standIn = undefined;
    dir = undefined;
  });

  it('accepts commands after a restart when the record handled last was another application\'s, since scavenged', async () => {
    const served = await servedWithAForeignRecordLast('scav-1');
    ({ standIn, svc } = served);
    const { orders } = served;
    standIn.log.scavenge(orders);
    svc = await svc.restart();

    expect(await registerNode(svc, 'scav-2')).toBe(201);
    await caughtUpOnce(svc);
  }, 60_000);

  it('resumes dropped subscriptions after another application\'s scavenged record, and the read models reach the head', async () => {
    const served = await servedWithAForeignRecordLast('drop-1');
    ({ standIn, svc } = served);
    const { orders } = served;
    standIn.log.scavenge(orders);
    standIn.dropSubscriptions('unavailable');

    expect(await registerNode(svc, 'drop-2')).toBe(201);
    await caughtUpOnce(svc);
    await noneFailing(svc);
  }, 60_000);

  it('resumes after a restart when another application appended after the scavenged record it handled last', async () => {
    const served = await servedWithAForeignRecordLast('again-1');
    ({ standIn, svc } = served);
    const { orders } = served;
    standIn.log.scavenge(orders);
    foreignRecord(standIn, `orders-${randomUUID()}`);
    svc = await svc.restart();

    expect(await registerNode(svc, 'again-2')).toBe(201);
    await caughtUpOnce(svc);
  }, 60_000);

  it('resumes read models whose checkpoint an earlier version kept on another application\'s record, since scavenged', async () => {
    dir = mkdtempSync(join(tmpdir(), 'credence-scavenged-checkpoint-'));
    const served = await servedWithAForeignRecordLast('old-1', dir);
    ({ standIn, svc } = served);
    const { orders, foreign } = served;
    const config = { store: standIn.connectionString };
    const foreignId = standIn.log.all.find((e) => e.position === foreign)!.id;
    const names = svc.service.context.credence.runner.names;
    await svc.close();
    // What an earlier version kept: the record handled last, another application's, which has no `occurredAt`.
    const db = new Database(join(dir, 'readmodels.db'));
    const keep = db.prepare('UPDATE projection_checkpoints SET position = ?, occurred_at = ?, event_id = ? WHERE name = ?');
    for (const name of names) keep.run(foreign, '', foreignId, name);
    db.close();
    standIn.log.scavenge(orders);
    // The store's head past the checkpoint again: a read after it is asked of the server, which refuses it.
    foreignRecord(standIn, `orders-${randomUUID()}`);
    svc = await startTestService({ dir, config });

    expect(await registerNode(svc, 'old-2')).toBe(201);
    await caughtUpOnce(svc);
    await noneFailing(svc);
    for (const name of names) expect(svc.service.context.credence.runner.checkpoint(name)).not.toBe(foreign);
  }, 60_000);

  it('lifts the refusal an earlier version kept at another application\'s scavenged record, every leaf of Credence\'s being in the store', async () => {
    dir = mkdtempSync(join(tmpdir(), 'credence-scavenged-leaf-'));
    const served = await servedWithAForeignRecordLast('kept-1', dir);
    ({ standIn, svc } = served);
    const { orders, foreign } = served;
    const config = { store: standIn.connectionString };
    await svc.close();
    standIn.log.scavenge(orders);
    // What an earlier version kept on its restart: its newest leaf, the scavenged record, taken for another log's.
    const log = openTransparencyLogInDir(dir);
    const newest = log.leafAt(log.size() - 1)!;
    expect(newest.position).toBe(foreign);
    log.keepRefusal({ leafIndex: newest.leafIndex, position: newest.position, expectedLeafHash: newest.leafHash, refusedAt: new Date().toISOString() });
    log.close();
    svc = await startTestService({ dir, config });

    expect(await registerNode(svc, 'kept-2')).toBe(201);
    await caughtUpOnce(svc);
    expect(svc.service.context.credence.transparency!.clearedRefusal?.position).toBe(foreign);
  }, 60_000);
});
