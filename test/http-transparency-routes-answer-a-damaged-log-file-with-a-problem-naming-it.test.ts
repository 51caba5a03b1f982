import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tearTablePage } from './support/torn-page.ts';

/*
 * Found in review 51: a torn page in the `nodes` table of transparency.db made GET /v1/transparency/evidence/... answer
 * 500 `internal`, with the driver's SqliteError and its stack in the log. A log file SQLite cannot read is now the
 * `damaged_database` problem (503) naming the file, and one log line with what mends it, without a stack.
 */
describe('the transparency routes on a log file whose stored subtree hashes are on a torn page', () => {
  let svc: TestService;
  let api: Api;
  let position: string;
  const evidence = () => api.call('GET', '/v1/transparency/evidence/{kind}/{id}', { kind: 'node', id: 'meter-1' }, { token: svc.tokens.auditor });
  const inclusion = () => api.call('GET', '/v1/transparency/proofs/inclusion', {}, { token: svc.tokens.auditor, query: { position } });

  const tearNodesPage = (): void => tearTablePage(join(svc.dir, 'transparency.db'), 'nodes');

  beforeEach(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    for (const command of [body.createSubscription(), body.registerNode('meter-1'), body.enrolNode('meter-1'), body.registerNode('meter-2'), body.registerNode('meter-3')]) {
      const reply = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: command });
      expect(reply.status).toBe(201);
    }
    await settled(svc);
    position = (await svc.service.context.credence.store.readStream('node-meter-1'))[0]!.position.toString(10);
    expect((await evidence()).status).toBe(200);
  });
  afterEach(async () => {
    await svc?.close();
  });

  it('answers the evidence and inclusion routes with damaged_database naming transparency.db, and logs what mends it without a stack', async () => {
    tearNodesPage();
    const logged = svc.logs().length;
    for (const reply of [await evidence(), await inclusion()]) {
      expect(reply.status).toBe(503);
      expect(reply.body.type).toBe('https://credence.dev/problems/damaged_database');
      expect(reply.body.file).toBe('transparency.db');
      expect(reply.body.detail).toMatch(/transparency\.db is damaged/);
      expect(reply.text).not.toContain(svc.dir);
    }
    const lines = svc.logs().slice(logged).join('\n');
    expect(lines).toMatch(/transparency\.db is damaged \(SQLITE_CORRUPT\w*: .*restore it from a backup/);
    expect(lines).not.toMatch(/"stack"|SqliteError|request failed/);
  });
});
