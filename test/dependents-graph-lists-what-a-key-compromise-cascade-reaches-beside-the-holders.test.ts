import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import type { Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { cascadeFrom, dependentEnding, walkDependents } from '../projections/cascade/index.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { at, cmd, issueCredentialData, operator, T0 } from './support/fleet.ts';
import { commandAsOperator } from './support/operator-commands-over-http.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 329: the dependents graph ("what depends on it") read the holder relations only, and left out what a
 * keyCompromise cascade reaches beside them. After boot-1 was revoked keyCompromise its graph was empty, though svc-1,
 * remotely provisioned on it, was revoked because of it (review 288); after node meter-1 was revoked keyCompromise its
 * graph did not list the App-ID credential its AE signed in with there (revoked because of it, review 249), nor that
 * credential's association on meter-2, nor the end of the App-ID's enrolment. Both are now relations of the graph
 * (`provisioned-on-bootstrap`, `application-credential-signed-in-on`), listed while they apply: the parent not ended,
 * or revoked keyCompromise.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const LIMIT = 100;

/** The walk of `root` as [id, parent, relation, cascade], with each dependent's ending type and reason. */
const walked = (c: Credence, root: string) => {
  const db = c.readModels;
  const walk = walkDependents(db, root, LIMIT);
  const cascade = cascadeFrom(db, root, walk.dependents);
  return walk.dependents.map((d) => {
    const ending = dependentEnding(db, d);
    return [d.streamId, d.parent, d.relation, cascade.get(d.streamId) === true, ending === undefined ? null : `${ending.type} ${ending.reason ?? ''}`.trim()];
  });
};

/** meter-1 registered with boot-1 and enrolled; svc-1 remotely provisioned on boot-1, sa-1 established on svc-1. */
const bootstrapFleet = async (): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  const e: Pick<Engine, 'execute'> = c.engine;
  await e.execute(cmd.createSubscription());
  await e.execute(command('registerNode', {
    nodeId: 'meter-1', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] }, bootstrapCredentialId: 'boot-1',
  }, { actor: operator }));
  await e.execute(cmd.issueCredential('boot-1', 'meter-1', at(300), { purpose: 'bootstrap' }));
  await e.execute(cmd.provisionCredential('boot-1'));
  await e.execute(cmd.enrolNode());
  await e.execute(cmd.issueCredential('svc-1', 'meter-1', at(90)));
  await e.execute(command('provisionCredential', { credentialId: 'svc-1', method: 'remote-provisioning', bootstrapCredentialId: 'boot-1' }, { actor: operator }));
  await e.execute(cmd.configureAssociation('sa-1', 'svc-1'));
  await e.execute(cmd.establishAssociation('sa-1'));
  await c.settle();
  return c;
};

/** AE `aeId` of Rbilling on `nodeId`, signing in with the App-ID's own credential app-cred-1. */
const onAppCredential = (associationId: string, nodeId: string, aeId: string) =>
  command('configureAssociation', { associationId, nodeId, credentialId: 'app-cred-1', registree: { kind: 'ae', id: aeId, appId: 'Rbilling' }, registrarCseId: '/in-cse' }, { actor: operator });

/** meter-1 and meter-2 enrolled; Rbilling enrolled with app-cred-1; its AEs on both nodes established with it (sa-1, sa-2). */
const applicationFleet = async (): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  for (const x of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2')]) {
    await c.engine.execute(x);
  }
  await c.engine.execute(cmd.issueCredential('m1-c', 'meter-1', at(90)));
  await c.engine.execute(cmd.provisionCredential('m1-c'));
  await c.engine.execute(command('registerApplication', { appId: 'Rbilling', name: 'billing', provider: 'City Utilities' }, { actor: operator }));
  await c.engine.execute(cmd.issueCredential('app-cred-1', 'Rbilling', at(300), { purpose: 'application', owner: { kind: 'app', id: 'Rbilling' } }));
  await c.engine.execute(cmd.provisionCredential('app-cred-1'));
  await c.engine.execute(command('enrolApplication', { appId: 'Rbilling', credentialId: 'app-cred-1' }, { actor: operator }));
  await c.engine.execute(onAppCredential('sa-1', 'meter-1', 'Cbill1'));
  await c.engine.execute(cmd.establishAssociation('sa-1'));
  await c.engine.execute(onAppCredential('sa-2', 'meter-2', 'Cbill2'));
  await c.engine.execute(cmd.establishAssociation('sa-2'));
  await c.settle();
  return c;
};

describe('a bootstrap credential: the credentials remotely provisioned on it (provisioned-on-bootstrap)', () => {
  it('revoked keyCompromise, its graph lists svc-1 and svc-1\'s association, both ended by its cascade', async () => {
    const c = await bootstrapFleet();
    await c.engine.execute(cmd.revokeCredential('boot-1', 'keyCompromise'));
    await c.settle();
    expect(walked(c, 'credential-boot-1')).toEqual([
      ['credential-svc-1', 'credential-boot-1', 'provisioned-on-bootstrap', true, 'CredentialRevoked keyCompromise'],
      ['association-sa-1', 'credential-svc-1', 'association-of-credential', true, 'AssociationRevoked keyCompromise'],
    ]);
  });

  it('while boot-1 is live it lists svc-1 (its compromise would take it); retired for another reason, it does not', async () => {
    const c = await bootstrapFleet();
    expect(walked(c, 'credential-boot-1').map((d) => d.slice(0, 4))).toEqual([
      ['credential-svc-1', 'credential-boot-1', 'provisioned-on-bootstrap', false],
      ['association-sa-1', 'credential-svc-1', 'association-of-credential', false],
    ]);
    await c.engine.execute(cmd.revokeCredential('boot-1', 'superseded'));
    await c.settle();
    expect(walked(c, 'credential-boot-1')).toEqual([]);
  });

  it("the node's graph keeps svc-1 under the node, its holder, not under boot-1", async () => {
    const c = await bootstrapFleet();
    const relations = walked(c, 'node-meter-1').map((d) => d.slice(0, 3));
    expect(relations).toContainEqual(['credential-svc-1', 'node-meter-1', 'credential-of-node']);
    expect(relations.filter((d) => d[0] === 'credential-svc-1')).toHaveLength(1);
  });
});

describe('a node: the App-ID credentials its AEs signed in with on it (application-credential-signed-in-on)', () => {
  it("revoked keyCompromise, its graph lists app-cred-1, its association on meter-2 and the App-ID's enrolment end, all its cascade's", async () => {
    const c = await applicationFleet();
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    const graph = walked(c, 'node-meter-1');
    // The holder relations first, as before.
    expect(graph.slice(0, 2)).toEqual([
      ['credential-m1-c', 'node-meter-1', 'credential-of-node', true, 'CredentialRevoked keyCompromise'],
      ['association-sa-1', 'node-meter-1', 'association-of-node', true, 'AssociationRevoked keyCompromise'],
    ]);
    expect(graph.slice(2)).toEqual([
      ['credential-app-cred-1', 'node-meter-1', 'application-credential-signed-in-on', true, 'CredentialRevoked keyCompromise'],
      ['association-sa-2', 'credential-app-cred-1', 'association-of-credential', true, 'AssociationRevoked keyCompromise'],
      ['application-Rbilling', 'credential-app-cred-1', 'application-enrolled-with', true, 'ApplicationEnrolmentEnded keyCompromise'],
    ]);
  });

  it('while meter-1 is live it lists app-cred-1 (its compromise would take it); revoked for another reason, it does not', async () => {
    const c = await applicationFleet();
    expect(walked(c, 'node-meter-1').filter((d) => d[2] === 'application-credential-signed-in-on').map((d) => d.slice(0, 4))).toEqual([
      ['credential-app-cred-1', 'node-meter-1', 'application-credential-signed-in-on', false],
    ]);
    // meter-2's graph lists it too: an AE signed in with it there.
    expect(walked(c, 'node-meter-2').map((d) => d[0])).toContain('credential-app-cred-1');
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'cessationOfOperation' }, { actor: operator }));
    await c.settle();
    expect(walked(c, 'node-meter-1').map((d) => d[2])).not.toContain('application-credential-signed-in-on');
  });

  it('the walk stays bounded: a limit the holder relations fill says more exist, and one that fits them all does not', async () => {
    const c = await applicationFleet();
    const all = walkDependents(c.readModels, 'node-meter-1', LIMIT);
    expect(all.truncated).toBe(false);
    expect(all.dependents).toHaveLength(5);
    for (const limit of [1, 2, 3, 4]) {
      const walk = walkDependents(c.readModels, 'node-meter-1', limit);
      expect(walk.dependents).toEqual(all.dependents.slice(0, limit));
      expect(walk.truncated).toBe(true);
    }
    expect(walkDependents(c.readModels, 'node-meter-1', 5)).toEqual(all);
  });
});

describe('GET /v1/entities/credential/{id}/dependents names the relation provisioned-on-bootstrap', () => {
  let svc: TestService;
  let api: Api;
  const run = (payload: unknown) => commandAsOperator(api, svc, payload);
  const DAY = 86_400_000;
  const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    await run(body.createSubscription());
    await run({ type: 'registerNode', data: { ...body.registerNode('meter-1').data, bootstrapCredentialId: 'boot-9' } });
    await run({ type: 'issueCredential', data: { ...issueCredentialData('boot-9', 'meter-1', { notBefore: iso(-DAY), notAfter: iso(300 * DAY) }), purpose: 'bootstrap' } });
    await run(body.provisionCredential('boot-9'));
    await run(body.enrolNode('meter-1'));
    await run({ type: 'issueCredential', data: issueCredentialData('svc-9', 'meter-1', { notBefore: iso(-DAY), notAfter: iso(90 * DAY) }) });
    await run({ type: 'provisionCredential', data: { credentialId: 'svc-9', method: 'remote-provisioning', bootstrapCredentialId: 'boot-9' } });
    await run({ type: 'revokeCredential', data: { credentialId: 'boot-9', reason: 'keyCompromise' } });
    await settled(svc);
  }, 120_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('answers with it (in the OpenAPI document), the cascade and the cause', async () => {
    const reply = await api.call('GET', '/v1/entities/{kind}/{id}/dependents', { kind: 'credential', id: 'boot-9' }, { token: svc.tokens.auditor });
    expect(reply.status).toBe(200);
    const answer = reply.body as { root: { ending: { position: string } }; dependents: { id: string; relation: string; cascade: boolean; ending?: unknown }[] };
    expect(answer.dependents).toEqual([
      expect.objectContaining({
        id: 'svc-9',
        relation: 'provisioned-on-bootstrap',
        cascade: true,
        ending: expect.objectContaining({ reason: 'keyCompromise', causedBy: { streamId: 'credential-boot-9', type: 'CredentialRevoked', position: answer.root.ending.position } }),
      }),
    ]);
  });
});
