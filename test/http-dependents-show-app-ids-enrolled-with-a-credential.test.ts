import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { issueCredentialData } from './support/fleet.ts';
import { commandAsOperator, meter1Enrolled } from './support/operator-commands-over-http.ts';
import { startTestService, type TestService } from './support/service.ts';

// A credential's dependents graph shows the App-IDs enrolled with it (seed 003 11.2.2: its end ends their
// authorisation). Before, the graph of a revoked credential did not show the App-ID whose enrolment its revocation
// ended. An enrolment that ended with the credential stays listed, with that end and its cause; an App-ID that moved
// onto another credential is listed there instead.

const DAY = 86_400_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

interface Dependent {
  id: string;
  kind: string;
  state?: string;
  parent: string;
  relation: string;
  cascade: boolean;
  ending?: { type: string; position: string; reason?: string; causedBy?: { streamId: string; type: string; position: string } };
}

describe('GET /v1/entities/credential/{id}/dependents: the App-IDs enrolled with the credential', () => {
  let svc: TestService;
  let api: Api;
  const run = (payload: unknown) => commandAsOperator(api, svc, payload);
  const dependents = async (id: string): Promise<{ root: Dependent; dependents: Dependent[] }> => {
    const reply = await api.call('GET', '/v1/entities/{kind}/{id}/dependents', { kind: 'credential', id }, { token: svc.tokens.auditor });
    expect(reply.status).toBe(200);
    return reply.body as { root: Dependent; dependents: Dependent[] };
  };
  const appCredential = async (credentialId: string, appId: string) => {
    await run({
      type: 'issueCredential',
      data: { ...issueCredentialData(credentialId, 'meter-1', { notBefore: iso(-DAY), notAfter: iso(200 * DAY) }), purpose: 'application', owner: { kind: 'app', id: appId } },
    });
    await run(body.provisionCredential(credentialId));
  };

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    await meter1Enrolled(run);
    for (const appId of ['Rkey', 'Rmove']) await run({ type: 'registerApplication', data: { appId, name: appId, provider: 'City Utilities' } });
    await appCredential('K1', 'Rkey');
    await appCredential('K2', 'Rkey');
    await run({ type: 'enrolApplication', data: { appId: 'Rkey', credentialId: 'K1' } });
    await run({
      type: 'configureAssociation',
      data: { associationId: 'Ckey-sa', nodeId: 'meter-1', credentialId: 'K1', registree: { kind: 'ae', id: 'Ckey', appId: 'Rkey' }, registrarCseId: '/in-cse' },
    });
    await run(body.establishAssociation('Ckey-sa'));
    await appCredential('M1', 'Rmove');
    await appCredential('M2', 'Rmove');
    await run({ type: 'enrolApplication', data: { appId: 'Rmove', credentialId: 'M1' } });
    await settled(svc);
  }, 120_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('lists the App-ID enrolled with the credential, as a leaf, not ended', async () => {
    const graph = await dependents('K1');
    expect(graph.dependents.map((d) => [d.id, d.parent, d.relation, d.cascade])).toEqual([
      ['Ckey-sa', 'credential-K1', 'association-of-credential', false],
      ['Rkey', 'credential-K1', 'application-enrolled-with', false],
    ]);
    expect(graph.dependents[1]).toMatchObject({ kind: 'application', state: 'associated' });
    expect(graph.dependents[1]!.ending).toBeUndefined();
    // The App-ID's other credential does not depend on this one: the enrolled App-ID is not walked into.
    expect(graph.dependents.map((d) => d.id)).not.toContain('K2');
  });

  it("keeps the App-ID listed once the credential's revocation ended its enrolment, with that end, its cause and the cascade", async () => {
    await run({ type: 'revokeCredential', data: { credentialId: 'K1', reason: 'keyCompromise' } });
    await settled(svc);
    const graph = await dependents('K1');
    expect(graph.root).toMatchObject({ state: 'revoked', ending: { type: 'CredentialRevoked', reason: 'keyCompromise' } });
    const byId = new Map(graph.dependents.map((d) => [d.id, d]));
    expect(byId.get('Rkey')).toMatchObject({
      relation: 'application-enrolled-with',
      cascade: true,
      ending: { type: 'ApplicationEnrolmentEnded', reason: 'keyCompromise', causedBy: { streamId: 'credential-K1', type: 'CredentialRevoked', position: graph.root.ending!.position } },
    });
    // The App-ID stays registered: its state is not an ending of its own.
    expect(byId.get('Rkey')!.state).not.toBe('revoked');
    expect(byId.get('Ckey-sa')).toMatchObject({ state: 'revoked', cascade: true, ending: { type: 'AssociationRevoked', reason: 'keyCompromise' } });

    // Enrolled again with another credential: listed there, not ended; the first still shows the enrolment that ended.
    await run({ type: 'enrolApplication', data: { appId: 'Rkey', credentialId: 'K2' } });
    await settled(svc);
    const again = await dependents('K2');
    expect(again.dependents.map((d) => [d.id, d.relation, d.ending?.type ?? null])).toEqual([['Rkey', 'application-enrolled-with', null]]);
    expect((await dependents('K1')).dependents.find((d) => d.id === 'Rkey')).toMatchObject({ ending: { type: 'ApplicationEnrolmentEnded' }, cascade: true });
  });

  it('no longer lists an App-ID that was revoked while enrolled: it ended on its own, its credential with it (found in review)', async () => {
    expect((await dependents('K2')).dependents.map((d) => d.id)).toEqual(['Rkey']);
    await run({ type: 'revokeApplication', data: { appId: 'Rkey', reason: 'privilegeWithdrawn' } });
    await settled(svc);
    const graph = await dependents('K2');
    expect(graph.root).toMatchObject({ state: 'revoked', ending: { causedBy: { streamId: 'application-Rkey', type: 'ApplicationRevoked' } } });
    expect(graph.dependents).toEqual([]);
    // The enrolment that ended with K1 before stays listed there, with its end.
    expect((await dependents('K1')).dependents.find((d) => d.id === 'Rkey')).toMatchObject({ ending: { type: 'ApplicationEnrolmentEnded' } });
  });

  it('lists an App-ID that moved onto another credential under that one only', async () => {
    expect((await dependents('M1')).dependents.map((d) => d.id)).toEqual(['Rmove']);
    await run({ type: 'enrolApplication', data: { appId: 'Rmove', credentialId: 'M2', replaces: 'M1' } });
    await settled(svc);
    expect((await dependents('M1')).dependents).toEqual([]);
    expect((await dependents('M2')).dependents.map((d) => [d.id, d.relation, d.cascade])).toEqual([['Rmove', 'application-enrolled-with', false]]);
  });
});
