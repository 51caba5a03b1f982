import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review: when the transparency log holds a leaf for a position whose event the store no longer holds (a row
 * deleted from events.db), the inclusion-proof endpoint answered 404 "no logged event at position N", which reads as
 * "never logged", while the evidence endpoint answered 422 with the tamper refusal. And an event altered in the store
 * was served with a proof for the leaf the log recorded, a proof that can never verify. Both are now the evidence
 * endpoint's refusal (422, the same problem type), naming the position and the leaf index.
 */

describe('an inclusion proof of an event the store no longer holds as the log recorded it', () => {
  let svc: TestService;
  let api: Api;
  /** The position of node-meter-1's registration (leaf index `leaf`), a middle event of the log. */
  let position: string;
  let leaf: number;

  const inclusion = (at: string) => api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token: svc.tokens.auditor, query: { position: at } });
  const evidence = () => api.call('GET', '/v1/transparency/evidence/{kind}/{id}', { kind: 'node', id: 'meter-1' }, { token: svc.tokens.auditor });
  const tamper = (sql: string): void => {
    const db = new Database(join(svc.dir, 'events.db'));
    try {
      db.prepare(sql).run(position);
    } finally {
      db.close();
    }
  };

  beforeEach(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    for (const command of [body.createSubscription(), body.registerNode('meter-1'), body.enrolNode('meter-1'), body.registerNode('meter-2')]) {
      const reply = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: command });
      expect(reply.status).toBe(201);
    }
    await settled(svc);
    const registered = (await svc.service.context.credence.store.readStream('node-meter-1'))[0]!;
    position = registered.position.toString(10);
    // Served whole before the store is touched: the leaf index the log gave it.
    const before = await inclusion(position);
    expect(before.status).toBe(200);
    leaf = before.body.proof.leafIndex;
  });
  afterEach(async () => {
    await svc?.close();
  });

  it('refuses a deleted event with the evidence endpoint\'s tamper problem (422), naming the position and the leaf index', async () => {
    tamper('DELETE FROM events WHERE position = ?');
    const refused = await inclusion(position);
    const bundle = await evidence();
    expect(bundle.status).toBe(422);
    expect(refused.status).toBe(422);
    expect(refused.body.type).toBe(bundle.body.type);
    expect(refused.body.detail).toBe(
      `inclusion proof rejected: the log recorded leaf ${leaf} at position ${position}, and the store does not hold that event; run credence verify --data`,
    );
    // A position the log never recorded is still a 404.
    expect((await inclusion('999999')).status).toBe(404);
  });

  it('refuses an event altered in the store, and sends the operator to verify --data to tell which file was altered (review 164: the route cannot read the whole log to know)', async () => {
    tamper(`UPDATE events SET data = json_set(data, '$.profile.model', 'forged') WHERE position = ?`);
    const refused = await inclusion(position);
    const bundle = await evidence();
    expect(bundle.status).toBe(422);
    expect(refused.status).toBe(422);
    expect(refused.body.type).toBe(bundle.body.type);
    expect(refused.body.detail).toBe(
      `inclusion proof rejected: the store's event and the log's leaf disagree at position ${position}: run credence verify --data to tell which file was altered`,
    );
  });
});
