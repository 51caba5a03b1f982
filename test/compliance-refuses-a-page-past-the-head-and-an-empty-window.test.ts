import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_MODELS_DB_FILE } from '../adapters/driven/readmodels/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Found in review: a compliance page asked with `?after=` past the log's head answered 200 with no rows and
 * `truncated: false`, so a pager concluded "no more revocations" (GET /v1/events refuses the same resume point, 409);
 * and a window whose `to` is not later than its `from` answered no rows instead of saying the window is empty. Both are
 * refused now, over HTTP (409 `resume_point_not_in_log`; 400 naming `query.to`) and through `credence query`
 * (the server's problem printed, or bad usage with --data, exit 2), and a refusal writes nothing.
 */

const cli = async (argv: string[]) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env: {} });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('compliance paging past the head and empty windows', () => {
  let svc: TestService;
  let api: Api;
  let head: bigint;
  const folders = tempDirs('credence-compliance-refusals-');
  const get = (query: string, params: Record<string, string>, accept?: string) =>
    api.call('GET', '/v1/compliance/{query}', { query }, { token: svc.tokens.auditor, query: params, ...(accept !== undefined ? { accept } : {}) });

  beforeAll(async () => {
    svc = await startTestService({ dir: folders.make() });
    api = await openApi(svc);
    for (const command of [body.createSubscription(), body.registerNode('meter-1'), body.revokeNode('meter-1'), body.registerNode('meter-2'), body.revokeNode('meter-2')]) {
      expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: command })).status).toBe(201);
    }
    await settled(svc);
    head = (await svc.service.context.credence.store.headPosition())!;
  });
  afterAll(async () => {
    await svc?.close();
    folders.cleanup();
  });

  it('HTTP: an `after` past the head is 409 resume_point_not_in_log naming the head, as JSON and as CSV; the head itself is a last page', async () => {
    const past = (head + 1000n).toString(10);
    for (const [query, params] of [
      ['revocations', {}],
      ['actions', { actor: 'test-operator' }],
      ['provisioned', { subscription: 'sub-1' }],
    ] as const) {
      for (const accept of ['application/json', 'text/csv']) {
        const refused = await get(query, { ...params, after: past }, accept);
        expect(refused.status, `${query} ${accept}`).toBe(409);
        expect(refused.body).toMatchObject({ type: expect.stringMatching(/resume_point_not_in_log$/), resumeAfter: past, head: head.toString(10) });
        expect(refused.body.detail).toContain(`cannot resume after ${past}: this log's newest event is at ${head}`);
      }
      const last = await get(query, { ...params, after: head.toString(10) });
      expect(last.status).toBe(200);
      expect(last.body).toMatchObject({ rows: [], truncated: false });
    }
    expect((await get('revocations', { after: '0' })).body.rows).toHaveLength(2);
  });

  it('HTTP: a window whose `to` is not later than its `from` is 400 naming query.to, for every query that takes a window', async () => {
    for (const [query, params] of [
      ['revocations', {}],
      ['actions', { actor: 'test-operator' }],
    ] as const) {
      for (const window of [
        { from: '2026-02-01', to: '2026-02-01' },
        { from: '2026-02-01T00:00:00Z', to: '2026-01-31T23:59:59Z' },
      ]) {
        const refused = await get(query, { ...params, ...window });
        expect(refused.status, `${query} ${JSON.stringify(window)}`).toBe(400);
        expect(refused.body.errors).toEqual([expect.objectContaining({ path: 'query.to', message: 'must be later than `from`: the window [from, to) holds no instant' })]);
      }
      expect((await get(query, { ...params, from: '2000-01-01', to: '2100-01-01' })).status).toBe(200);
    }
  });

  it('credence query --server prints the server\'s 409 (exit 1) and refuses an empty window before asking (exit 2)', async () => {
    const server = ['--server', svc.url, '--token', svc.tokens.auditor];
    const past = await cli(['query', 'revocations', '--after', (head + 1000n).toString(10), ...server]);
    expect(past.code).toBe(1);
    expect(past.out).toBe('');
    expect(past.err).toContain(`cannot resume after ${head + 1000n}: this log's newest event is at ${head}`);
    expect(past.err).toMatch(/^\s+head: "?\d+"?$/m);
    const empty = await cli(['query', 'actions', '--actor', 'test-operator', '--from', '2026-02-01', '--to', '2026-01-01', ...server]);
    expect(empty.code).toBe(2);
    expect(empty.err).toBe('error: --to: must be later than `from`: the window [from, to) holds no instant');
  });

  it('credence query --data refuses both as bad usage (exit 2), naming the option, and writes no read model', async () => {
    await svc.close();
    rmSync(join(svc.dir, READ_MODELS_DB_FILE), { force: true });
    for (const suffix of ['-wal', '-shm']) rmSync(join(svc.dir, `${READ_MODELS_DB_FILE}${suffix}`), { force: true });

    const past = await cli(['query', 'revocations', '--after', (head + 1n).toString(10), '--data', svc.dir]);
    expect(past.code).toBe(2);
    expect(past.out).toBe('');
    expect(past.err).toBe(
      `error: --after: cannot resume after ${head + 1n}: this log's newest event is at ${head}, so it is no position of this log ` +
        '(a store restored from an older backup, or a position never handed out); page again from the start (without --after)',
    );
    const empty = await cli(['query', 'revocations', '--from', '2026-02-01', '--to', '2026-02-01', '--data', svc.dir]);
    expect(empty.code).toBe(2);
    expect(empty.err).toBe('error: --to: must be later than `from`: the window [from, to) holds no instant');
    expect(existsSync(join(svc.dir, READ_MODELS_DB_FILE))).toBe(false);

    // The head itself is the last page, answered from read models brought up to it.
    const last = await cli(['query', 'revocations', '--after', head.toString(10), '--data', svc.dir, '--json']);
    expect(last.code, last.err).toBe(0);
    expect(JSON.parse(last.out)).toMatchObject({ rows: [], truncated: false });
  });
});
