import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { body, settled } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 418 F2: with the newest checkpoint row deleted under the running service (a rollback), /checkpoint, /readyz,
 * /consistency and /evidence answered 503 transparency_log_altered, but GET /v1/transparency/proofs/inclusion answered
 * 200 with the rolled-back checkpoint served as "the latest". It is refused as the other routes are.
 */
let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
});

describe('GET /v1/transparency/proofs/inclusion after the newest checkpoint was rolled back', () => {
  it('answers 503 transparency_log_altered, as /checkpoint does, not a proof against the rolled-back checkpoint', async () => {
    svc = await startTestService();
    const s = svc;
    const post = (id: string) =>
      fetch(`${s.url}/v1/commands`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.tokens.operator}`, 'content-type': 'application/json' },
        body: JSON.stringify(body.registerNode(id)),
      });
    const get = (path: string) => fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${s.tokens.auditor}` } });
    expect((await post('meter-1')).status).toBe(201);
    await settled(s);
    const transparency = s.service.context.credence.transparency!;
    const kept = await transparency.checkpoint();
    expect((await post('meter-2')).status).toBe(201);
    await settled(s);
    const newest = await transparency.checkpoint();
    expect(newest.treeSize).toBeGreaterThan(kept.treeSize);
    const position = (await s.service.context.credence.store.readStream('node-meter-1'))[0]!.position.toString(10);

    const db = new Database(join(s.dir, 'transparency.db'));
    try {
      db.prepare('DELETE FROM checkpoints WHERE tree_size = ?').run(newest.treeSize);
    } finally {
      db.close();
    }
    expect(() => transparency.checkStillSigned()).toThrow(/checkpoints were removed/);
    expect((await get('/v1/transparency/checkpoint')).status).toBe(503);

    const reply = await get(`/v1/transparency/proofs/inclusion?position=${position}`);
    const text = await reply.text();
    expect(reply.status, text).toBe(503);
    expect(JSON.parse(text)).toMatchObject({ type: 'https://credence.dev/problems/transparency_log_altered' });
    expect(text).not.toContain(kept.note.split('\n')[2]!);
  }, 60_000);
});
