/**
 * Review 188: an admin may issue a token under any subject, so a subject alone says little of who acted. An admin
 * issued an auditor token under `test-auditor`, a subject a real auditor already used, resolved a pseudonym, and
 * the PseudonymResolved event and the compliance `actions` row named only `{ id: 'test-auditor', role: 'auditor' }`:
 * nothing said which token acted or who issued it (and access.db forgets a token 30 days after it expires). Each
 * command the service admits from a token now records, beside the actor, `token: { id, issuedBy }`, set by the
 * service from the verified token, never by the sender; the bearer token itself is recorded nowhere.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommand } from '../domain/commands/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { body, settled, type Api } from './http-conformance.fixtures.ts';
import { startServiceWithPseudonym } from './support/served-pseudonym.ts';
import type { TestService } from './support/service.ts';

interface Row {
  type: string;
  streamId: string;
  actor: { id: string; role: string };
  token?: { id: string; issuedBy: string };
}

let svc: TestService;
let api: Api;
let pseudonym = '';
beforeAll(async () => {
  ({ svc, api, pseudonym } = await startServiceWithPseudonym('meter-188'));
}, 60_000);
afterAll(async () => {
  await svc?.close();
});

/** An admin issues, through the service, a token under `subject`. */
const minted = async (subject: string, role: string): Promise<{ token: string; tokenId: string }> => {
  const reply = await api.call<{ token: string; tokenId: string }>('POST', '/v1/tokens', {}, { token: svc.tokens.admin, body: { subject, role, ttl: '1h' } });
  expect(reply.status, reply.text).toBe(201);
  return reply.body;
};

describe('a command sent with a token an admin issued under an existing subject', () => {
  it('records the token and its issuer beside the actor, in the event and in the compliance actions (JSON and CSV)', async () => {
    // Given: an admin mints an auditor token under the subject the real auditor (`test-auditor`) uses.
    const { token, tokenId } = await minted('test-auditor', 'auditor');
    // When: it resolves a pseudonym.
    const resolved = await api.call('POST', '/v1/pseudonyms/resolutions', {}, { token, body: { pseudonym, reason: 'case 188', commandId: randomUUID() } });
    expect(resolved.status, resolved.text).toBe(200);
    await settled(svc);

    // Then: the stored event names the token and the admin who issued it; the actor's bytes are as before.
    const stored = (await svc.service.context.credence.store.readStream(`pseudonym-${pseudonym}`)).filter((e) => e.type === 'PseudonymResolved');
    expect(stored).toHaveLength(1);
    expect(stored[0]!.metadata['actor']).toEqual({ id: 'test-auditor', role: 'auditor' });
    expect(stored[0]!.metadata['token']).toEqual({ id: tokenId, issuedBy: 'test-admin', issuedWith: expect.stringMatching(/^tok_/) });
    // The token id is no secret; the bearer token is recorded nowhere.
    expect(JSON.stringify(stored[0]!.metadata)).not.toContain(token);

    // And the compliance actions of `test-auditor` tell this resolution from the real auditor's.
    const json = await api.call<{ rows: Row[] }>('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.auditor, query: { actor: 'test-auditor' } });
    expect(json.status, json.text).toBe(200);
    const row = json.body.rows.find((r) => r.type === 'PseudonymResolved')!;
    expect(row).toMatchObject({ actor: { id: 'test-auditor', role: 'auditor' }, token: { id: tokenId, issuedBy: 'test-admin' } });
    const csv = await api.call<string>('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.auditor, accept: 'text/csv', query: { actor: 'test-auditor' } });
    const [header, ...lines] = csv.body.trimEnd().split('\r\n');
    const columns = header!.split(',');
    // Added last: a CSV read by column index finds every column before them where it was.
    expect(columns.slice(-3)).toEqual(['token.id', 'token.issuedBy', 'token.issuedWith']);
    const cells = lines.find((l) => l.includes('PseudonymResolved'))!.split(',');
    expect(cells.slice(-3, -1)).toEqual([tokenId, 'test-admin']);
  });

  it('records it for a command sent to POST /v1/commands too, shown in the entity timeline', async () => {
    const { token, tokenId } = await minted('test-operator', 'operator');
    const sent = await api.call('POST', '/v1/commands', {}, { token, body: body.registerNode('meter-188-b') });
    expect(sent.status, sent.text).toBe(201);
    const [event] = await svc.service.context.credence.store.readStream('node-meter-188-b');
    expect(event!.metadata['token']).toEqual({ id: tokenId, issuedBy: 'test-admin', issuedWith: expect.stringMatching(/^tok_/) });
    await settled(svc);
    const timeline = await api.call<{ entries: Row[] }>('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'node', id: 'meter-188-b' }, { token: svc.tokens.auditor });
    expect(timeline.body.entries[0]).toMatchObject({ actor: { id: 'test-operator' }, token: { id: tokenId, issuedBy: 'test-admin' } });
  });
});

describe('who may set the token a command came with', () => {
  it('no request body: a body naming `token` or `metadata` is a 400 naming the field, nothing recorded', async () => {
    await settled(svc);
    const head = await svc.service.context.credence.store.headPosition();
    for (const extra of [{ token: { id: 'tok_x', issuedBy: 'someone' } }, { metadata: { token: { id: 'tok_x', issuedBy: 'someone' } } }]) {
      const field = Object.keys(extra)[0]!;
      const command = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: { ...body.registerNode('meter-188-c'), ...extra } });
      expect(command.status).toBe(400);
      expect(command.body).toMatchObject({ errors: [{ path: `body.${field}`, rule: 'unrecognized_key' }] });
      const resolution = await api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: svc.tokens.auditor, body: { pseudonym, reason: 'case 188', ...extra } });
      expect(resolution.status).toBe(400);
      expect(resolution.body).toMatchObject({ errors: [{ path: `body.${field}`, rule: 'unrecognized_key' }] });
    }
    expect(await svc.service.context.credence.store.headPosition()).toBe(head);
  });

  it('no command: metadata.token from a sender is a validation error naming it (the service sets it from the verified token)', () => {
    const sent = { ...body.registerNode('meter-188-d'), metadata: { commandId: randomUUID(), actor: { id: 'op', role: 'operator' }, token: { id: 'tok_x', issuedBy: 'someone' } } };
    let refused: unknown;
    try {
      parseCommand(sent);
    } catch (error) {
      refused = error;
    }
    expect(isCredenceError(refused, 'validation')).toBe(true);
    expect((refused as { problem: { issues: { path: string }[] } }).problem.issues.map((i) => i.path)).toEqual(['metadata.token']);
  });
});
