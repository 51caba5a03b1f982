import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { body, settled } from './http-conformance.fixtures.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review 372: checkpoints deleted from transparency.db under a running service, then one more command stored,
 * made the log key refuse to sign (TransparencyLogForked). /readyz said so (transparency_log_altered), yet the evidence
 * and inclusion routes answered 500 internal (so `credence verify --server` printed "Internal error (500)"), and
 * GET /v1/transparency/checkpoint said 404 "no signed checkpoint yet", which is false: the service knows why. Each now
 * answers 503 transparency_log_altered in /readyz's public words, naming no position.
 */
describe('the transparency routes while the log key refuses to sign a log changed under the service', () => {
  let svc: TestService;
  const get = (path: string) => fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
  const post = (id: string) =>
    fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(body.registerNode(id)),
    });
  let position = '';

  beforeAll(async () => {
    svc = await startTestService();
    expect((await post('meter-1')).status).toBe(201);
    await settled(svc);
    const log = new Database(join(svc.dir, 'transparency.db'));
    try {
      log.exec('DELETE FROM checkpoints');
    } finally {
      log.close();
    }
    expect((await post('meter-2')).status).toBe(201);
    await settled(svc);
    await expect(svc.service.context.credence.transparency!.checkpoint()).rejects.toThrow(/checkpoints were removed/);
    expect(svc.service.context.credence.transparency!.refusesToSign?.name).toBe('TransparencyLogForked');
    position = (await svc.service.context.credence.store.readStream('node-meter-2'))[0]!.position.toString(10);
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
  });

  const expectLogAltered = async (reply: Response): Promise<string> => {
    const text = await reply.text();
    expect(reply.status, text).toBe(503);
    const problem = JSON.parse(text) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: 'https://credence.dev/problems/transparency_log_altered' });
    expect(problem['detail']).toMatch(/the log key signs nothing more until the operator acts/);
    // The finding itself (sizes, positions) stays in the service's log.
    expect(text).not.toMatch(/where this process saw|signs \d+ leaves|position/);
    return String(problem['detail']);
  };

  it('answers the evidence and the inclusion proof routes 503 transparency_log_altered, not 500', async () => {
    await expectLogAltered(await get('/v1/transparency/evidence/node/meter-2'));
    await expectLogAltered(await get(`/v1/transparency/proofs/inclusion?position=${position}`));
  });

  it('says the log key refuses to sign at GET /v1/transparency/checkpoint, not that none is signed yet', async () => {
    const detail = await expectLogAltered(await get('/v1/transparency/checkpoint'));
    expect(detail).toMatch(/the log key refuses to sign/);
    expect(detail).not.toMatch(/no signed checkpoint yet/);
  });

  // Review 376 #2: the consistency proof to the latest checkpoint said 404 "no signed checkpoint of tree size (latest)".
  it('answers a consistency proof 503 transparency_log_altered, not a 404 that no checkpoint is signed', async () => {
    const detail = await expectLogAltered(await get('/v1/transparency/proofs/consistency?from=1'));
    expect(detail).not.toMatch(/no signed checkpoint/);
  });

  it('lets credence verify --server say why, not "Internal error (500)"', async () => {
    const c = capture();
    const code = await main(['verify', 'node-meter-2', '--server', svc.url, '--token', svc.tokens.auditor, '--key', join(svc.dir, 'transparency.pub')], { ...c.io, env: {} });
    const err = c.err.join('\n');
    expect(code).not.toBe(0);
    expect(err).not.toMatch(/Internal error|\(500\)/);
    expect(err).toMatch(/signs nothing more until the operator acts/);
  });
});
