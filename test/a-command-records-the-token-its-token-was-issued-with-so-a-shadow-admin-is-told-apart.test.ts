/**
 * Review 196, finding 2: `metadata.token.issuedBy` records only a subject, and an admin may issue a token under any
 * subject, its own included. An admin issued an admin token under `test-admin` (a "shadow" admin), and with it an
 * auditor token; the auditor's resolution then recorded issuedBy `test-admin`, as one issued by the real admin does,
 * and access.db, which keeps the issuing token's id (`issued_with`), forgets it 30 days after the token expires. Each
 * command now also records the id of the token its token was issued with (`metadata.token.issuedWith`), shown in the
 * timeline and the compliance `actions` rows (CSV column `token.issuedWith`, last); a token made outside the service
 * (the command line, here the test's own) was issued with none, and records none.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, settled, type Api } from './http-conformance.fixtures.ts';
import { startServiceWithPseudonym } from './support/served-pseudonym.ts';
import type { TestService } from './support/service.ts';

interface Row {
  type: string;
  token?: { id: string; issuedBy: string; issuedWith?: string };
}

let svc: TestService;
let api: Api;
let pseudonym = '';
beforeAll(async () => {
  ({ svc, api, pseudonym } = await startServiceWithPseudonym('meter-196'));
}, 60_000);
afterAll(async () => {
  await svc?.close();
});

/**
 * A token issued through the service with `issuer` (a bearer token) under `subject`, `ttl` long: shorter than its
 * issuer's, which it may not outlive (an hour under an hour-long issuer failed once a second had ticked between them).
 */
const minted = async (issuer: string, subject: string, role: string, ttl = '10m'): Promise<{ token: string; tokenId: string }> => {
  const reply = await api.call<{ token: string; tokenId: string }>('POST', '/v1/tokens', {}, { token: issuer, body: { subject, role, ttl } });
  expect(reply.status, reply.text).toBe(201);
  return reply.body;
};

describe('a command sent with a token a shadow admin issued under the real admin subject', () => {
  it('records the id of the token it was issued with, in the event, the actions rows (JSON and CSV) and the timeline', async () => {
    // Given: the admin mints an admin token under its own subject, and that one an auditor and an operator token.
    const shadow = await minted(svc.tokens.admin, 'test-admin', 'admin', '1h');
    const auditor = await minted(shadow.token, 'test-auditor', 'auditor');
    const operator = await minted(shadow.token, 'test-operator', 'operator');
    // When: the auditor resolves a pseudonym and the operator registers a node.
    const resolved = await api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: auditor.token, body: { pseudonym, reason: 'case 196', commandId: randomUUID() } });
    expect(resolved.status, resolved.text).toBe(200);
    const sent = await api.call('POST', '/v1/commands', {}, { token: operator.token, body: body.registerNode('meter-196-b') });
    expect(sent.status, sent.text).toBe(201);
    await settled(svc);

    // Then: the stored event names the shadow admin's token as the one the auditor's was issued with.
    const stored = (await svc.service.context.credence.store.readStream(`pseudonym-${pseudonym}`)).filter((e) => e.type === 'PseudonymResolved');
    expect(stored[0]!.metadata['token']).toEqual({ id: auditor.tokenId, issuedBy: 'test-admin', issuedWith: shadow.tokenId });

    // And the compliance actions say so, in JSON and as the CSV's last column.
    const json = await api.call<{ rows: Row[] }>('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.auditor, query: { actor: 'test-auditor' } });
    expect(json.status, json.text).toBe(200);
    expect(json.body.rows.find((r) => r.type === 'PseudonymResolved')!.token).toEqual({ id: auditor.tokenId, issuedBy: 'test-admin', issuedWith: shadow.tokenId });
    const csv = await api.call<string>('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.auditor, accept: 'text/csv', query: { actor: 'test-auditor' } });
    const [header, ...lines] = csv.body.trimEnd().split('\r\n');
    expect(header!.split(',').slice(-3)).toEqual(['token.id', 'token.issuedBy', 'token.issuedWith']);
    expect(lines.find((l) => l.includes('PseudonymResolved'))!.split(',').slice(-3)).toEqual([auditor.tokenId, 'test-admin', shadow.tokenId]);

    // And the entity timeline.
    const timeline = await api.call<{ entries: Row[] }>('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'node', id: 'meter-196-b' }, { token: svc.tokens.auditor });
    expect(timeline.body.entries[0]!.token).toEqual({ id: operator.tokenId, issuedBy: 'test-admin', issuedWith: shadow.tokenId });
  });

  it('records none for a token made outside the service (issued with no token)', async () => {
    const [event] = await svc.service.context.credence.store.readStream('node-meter-196');
    expect(event!.metadata['token']).toMatchObject({ issuedBy: 'test' });
    expect(event!.metadata['token']).not.toHaveProperty('issuedWith');
  });
});
