/**
 * Review 212 (SER-010): a revoked credential's reason raised to keyCompromise (machines v5, raisesToKeyCompromise)
 * stayed out of the dependency graph: the cascade read model kept the first ending alone, so GET …/dependents said
 * cessationOfOperation while the entity, OCSP and CRL said keyCompromise. The graph shows the raise beside the first
 * ending (which the cascade decided from, and still shows as it happened); a rebuild of the read model keeps it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endingOf } from '../projections/cascade/index.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { commandAsOperator, meter1Enrolled } from './support/operator-commands-over-http.ts';
import { startTestService, type TestService } from './support/service.ts';

interface Ending {
  type: string;
  position: string;
  reason?: string;
  raised?: { reason: string; position: string };
  causedBy?: { streamId: string; type: string; position: string };
}
interface Member {
  streamId: string;
  state?: string;
  cascade?: boolean;
  ending?: Ending;
}

describe('the dependents of a node whose cascaded credential revocation was raised to keyCompromise', () => {
  let svc: TestService;
  let api: Api;
  const run = (payload: unknown) => commandAsOperator(api, svc, payload);
  const dependents = async (kind: string, id: string): Promise<{ root: Member; dependents: Member[] }> => {
    const reply = await api.call('GET', '/v1/entities/{kind}/{id}/dependents', { kind, id }, { token: svc.tokens.auditor });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    return reply.body;
  };
  let raisedAt: string;

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    await meter1Enrolled(run);
    await run(body.issueCredential('cred-1', 'meter-1'));
    await run(body.provisionCredential('cred-1'));
    await run(body.revokeNode('meter-1', 'cessationOfOperation'));
    await settled(svc);
    await run(body.revokeCredential('cred-1', 'keyCompromise'));
    await settled(svc);
    raisedAt = String((await svc.service.context.credence.store.headPosition())!);
  }, 120_000);
  afterAll(async () => {
    await svc?.close();
  });

  it("shows the credential's first reason, its cascade, and the raise with its position, from the node", async () => {
    const { root, dependents: rows } = await dependents('node', 'meter-1');
    expect(root.ending).toMatchObject({ type: 'NodeRevoked', reason: 'cessationOfOperation' });
    expect(root.ending!.raised).toBeUndefined();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      streamId: 'credential-cred-1',
      state: 'revoked',
      cascade: true,
      ending: {
        type: 'CredentialRevoked',
        reason: 'cessationOfOperation',
        causedBy: { streamId: 'node-meter-1', type: 'NodeRevoked', position: root.ending!.position },
        raised: { reason: 'keyCompromise', position: raisedAt },
      },
    });
  });

  it('shows the raise on the credential as root, and keeps it through a rebuild of the cascade read model', async () => {
    const before = await dependents('credential', 'cred-1');
    expect(before.root.ending).toMatchObject({ reason: 'cessationOfOperation', raised: { reason: 'keyCompromise', position: raisedAt } });
    // What the cascade decides from stays the first ending: a dependent inherits the reason that ended it then.
    const db = svc.service.context.credence.readModels;
    expect(endingOf(db, 'credential-cred-1')).toMatchObject({ reason: 'cessationOfOperation', raised: { reason: 'keyCompromise', position: BigInt(raisedAt) } });
    await svc.service.context.credence.runner.rebuild('cascade');
    await settled(svc);
    expect((await dependents('credential', 'cred-1')).root).toEqual(before.root);
  });

  it('documents the raise in the OpenAPI schema of an ending', async () => {
    const ending = (api.doc as unknown as { components: { schemas: Record<string, { properties: Record<string, { description?: string }> }> } }).components.schemas['Ending']!;
    expect(ending.properties['raised']?.description).toMatch(/keyCompromise/);
  });
});
