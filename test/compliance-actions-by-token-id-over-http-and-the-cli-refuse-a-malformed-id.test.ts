/**
 * Review 196 (gap): "everything done with API token X" could not be asked. GET /v1/compliance/actions takes
 * `tokenId` and `credence query actions` takes `--token-id` (`--token` is the CLI's bearer token for --server): the
 * actions recorded with that token, paged as by actor. The id is read as the service issues token ids (`tok_` and 22
 * characters, adapters/http/auth/token-ids.ts); any other value is refused naming the parameter (HTTP 400
 * `query.tokenId`, CLI exit 2 `--token-id`), never echoed (a bearer token pasted there by mistake), and nothing is
 * written. The OpenAPI document states the parameter as it is read.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { runCli } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

interface Row {
  position: string;
  streamId: string;
  actor: { id: string };
  token?: { id: string; issuedBy: string };
}
interface Answer {
  rows: Row[];
  truncated: boolean;
  nextAfter?: string;
}

const scratch = temporaryFolders('credence-actions-by-token-');

let svc: TestService;
let api: Api;
const minted: { token: string; tokenId: string }[] = [];

beforeAll(async () => {
  svc = await startTestService();
  api = await openApi(svc);
  // Given: two tokens of one operator, used in turn.
  for (let i = 0; i < 2; i++) {
    const reply = await api.call<{ token: string; tokenId: string }>('POST', '/v1/tokens', {}, { token: svc.tokens.admin, body: { subject: 'test-operator', role: 'operator', ttl: '1h' } });
    expect(reply.status, reply.text).toBe(201);
    minted.push(reply.body);
  }
  for (let n = 0; n < 6; n++) {
    const sent = await api.call('POST', '/v1/commands', {}, { token: minted[n % 2]!.token, body: body.registerNode(`meter-tok-${n}`) });
    expect(sent.status, sent.text).toBe(201);
  }
  await settled(svc);
}, 60_000);
afterAll(async () => {
  await svc?.close();
});

const actions = (query: Record<string, string>) => api.call<Answer>('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.auditor, query });

describe('GET /v1/compliance/actions?tokenId=', () => {
  it('answers exactly the actions recorded with that token, in log order, paged by after', async () => {
    const [a, b] = [minted[0]!.tokenId, minted[1]!.tokenId];
    const reply = await actions({ tokenId: a });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body.rows.map((r) => r.streamId)).toEqual(['node-meter-tok-0', 'node-meter-tok-2', 'node-meter-tok-4']);
    expect(reply.body.rows.every((r) => r.token?.id === a && r.actor.id === 'test-operator')).toBe(true);
    expect((await actions({ tokenId: b, actor: 'test-operator' })).body.rows.map((r) => r.streamId)).toEqual(['node-meter-tok-1', 'node-meter-tok-3', 'node-meter-tok-5']);

    const first = await actions({ tokenId: b, limit: '2' });
    expect(first.body).toMatchObject({ truncated: true, nextAfter: expect.stringMatching(new RegExp(`^${first.body.rows[1]!.position}~[0-9a-f]{8}\\.[0-9a-f]{8}$`)) });
    const next = await actions({ tokenId: b, limit: '2', after: first.body.nextAfter! });
    expect(next.body.rows.map((r) => r.streamId)).toEqual(['node-meter-tok-5']);
    expect(next.body.truncated).toBe(false);
  });

  it('answers no rows for a well-formed id no action names', async () => {
    const reply = await actions({ tokenId: `tok_${'Z'.repeat(22)}` });
    expect([reply.status, reply.body.rows, reply.body.truncated]).toEqual([200, [], false]);
  });

  it('refuses a malformed id with a 400 naming query.tokenId, without echoing it, and writes nothing', async () => {
    const head = await svc.service.context.credence.store.headPosition();
    for (const value of ['not-a-token', `tok_${'A'.repeat(21)}`, minted[0]!.token]) {
      const reply = await actions({ tokenId: value });
      expect(reply.status, value).toBe(400);
      expect(reply.body).toMatchObject({ type: expect.stringMatching(/\/validation$/), errors: [{ path: 'query.tokenId', rule: 'invalid_format' }] });
      expect(reply.text).not.toContain(value);
    }
    // Another query takes no tokenId.
    const other = await api.call<{ errors: { path: string }[] }>('GET', '/v1/compliance/{query}', { query: 'revocations' }, { token: svc.tokens.auditor, query: { tokenId: minted[0]!.tokenId } });
    expect([other.status, other.body.errors.map((e) => e.path)]).toEqual([400, ['query.tokenId']]);
    expect(await svc.service.context.credence.store.headPosition()).toBe(head);
  });

  it('is documented in the OpenAPI document as a token id', async () => {
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as { paths: Record<string, { get: { parameters: { name: string; in: string; schema: { pattern?: string } }[] } }> };
    const tokenId = doc.paths['/v1/compliance/{query}']!.get.parameters.find((p) => p.in === 'query' && p.name === 'tokenId');
    expect(tokenId?.schema.pattern).toBe('^tok_[A-Za-z0-9_-]{22}$');
  });
});

describe('credence query actions --token-id', () => {
  it('lists the same rows from the server and from the data folder', async () => {
    const a = minted[0]!.tokenId;
    const remote = await runCli(['query', 'actions', '--token-id', a, '--json', '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(remote.code, remote.err).toBe(0);
    const local = await runCli(['query', 'actions', '--token-id', a, '--json', '--data', svc.dir]);
    expect(local.code, local.err).toBe(0);
    for (const out of [remote.out, local.out]) {
      expect((JSON.parse(out) as Answer).rows.map((r) => r.streamId)).toEqual(['node-meter-tok-0', 'node-meter-tok-2', 'node-meter-tok-4']);
    }
  });

  it('refuses a malformed id as bad usage (exit 2) naming --token-id, without echoing it, and writes nothing', async () => {
    const data = join(scratch(), 'data');
    for (const value of ['not-a-token', minted[0]!.token]) {
      const { code, err } = await runCli(['query', 'actions', '--token-id', value, '--data', data]);
      expect(code, err).toBe(2);
      expect(err).toBe('error: --token-id: a token id (tok_ and 22 characters)');
    }
    expect(existsSync(data)).toBe(false);
  });
});

describe('credence query refusals', () => {
  // Review 200: the CLI named a parameter by its API key (`Unrecognized key: "tokenId"`, `unless tokenId is given`).
  it('name the flags, never the API keys, of a parameter a query does not take or needs', async () => {
    const data = join(scratch(), 'data');
    const foreign = await runCli(['query', 'revocations', '--token-id', minted[0]!.tokenId, '--data', data]);
    expect([foreign.code, foreign.err]).toEqual([2, 'error: revocations: not taken by revocations: --token-id']);
    const neither = await runCli(['query', 'actions', '--data', data]);
    expect(neither.code).toBe(2);
    expect(neither.err).toContain('--actor: is required unless --token-id is given');
    expect(`${foreign.err}${neither.err}`).not.toContain('tokenId');
    expect(existsSync(data)).toBe(false);
  });
});
