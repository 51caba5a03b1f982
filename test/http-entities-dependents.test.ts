import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { cascadeFrom, endingOf, walkDependents } from '../projections/cascade/index.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { cmd, issueCredentialData, operator, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

const DAY = 86_400_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

interface Dependent {
  streamId: string;
  kind: string;
  id: string;
  state?: string;
  parent: string;
  relation: string;
  aeId?: string;
  cascade: boolean;
  ending?: { type: string; position: string; reason?: string; causedBy?: { streamId: string; type: string; position: string } };
}

describe('GET /v1/entities/counts and /v1/entities/{kind}/{id}/dependents', () => {
  let svc: TestService;
  let api: Api;
  const run = async (payload: unknown) => {
    const reply = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload });
    expect(reply.status, JSON.stringify(reply.body)).toBe(201);
  };
  const dependents = (kind: string, id: string, query: Record<string, string> = {}, token = svc.tokens.auditor) =>
    api.call('GET', '/v1/entities/{kind}/{id}/dependents', { kind, id }, { token, query });
  const counts = () => api.call('GET', '/v1/entities/counts', {}, { token: svc.tokens.auditor });

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    await run(body.createSubscription());
    // meter-1: two service credentials, two associations on the first and one on the second.
    for (const n of ['meter-1', 'meter-2']) {
      await run(body.registerNode(n));
      await run(body.enrolNode(n));
    }
    for (const c of ['m1-a', 'm1-b']) {
      await run(body.issueCredential(c, 'meter-1'));
      await run(body.provisionCredential(c));
    }
    for (const [sa, c] of [['m1-a-sa1', 'm1-a'], ['m1-a-sa2', 'm1-a'], ['m1-b-sa', 'm1-b']] as const) {
      await run(body.configureAssociation(sa, c, 'meter-1'));
      await run(body.establishAssociation(sa));
    }
    // The App-ID Rbill with its application credential and two AE instances hosted on meter-2.
    await run({ type: 'registerApplication', data: { appId: 'Rbill', name: 'billing', provider: 'City Utilities' } });
    await run({
      type: 'issueCredential',
      data: { ...issueCredentialData('Rbill-app', 'meter-2', { notBefore: iso(-DAY), notAfter: iso(200 * DAY) }), purpose: 'application', owner: { kind: 'app', id: 'Rbill' } },
    });
    await run(body.provisionCredential('Rbill-app'));
    await run({ type: 'enrolApplication', data: { appId: 'Rbill', credentialId: 'Rbill-app' } });
    for (const ae of ['Cbill1', 'Cbill2']) {
      await run({
        type: 'configureAssociation',
        data: { associationId: `${ae}-sa`, nodeId: 'meter-2', credentialId: 'Rbill-app', registree: { kind: 'ae', id: ae, appId: 'Rbill' }, registrarCseId: '/in-cse' },
      });
      await run(body.establishAssociation(`${ae}-sa`));
    }
    await settled(svc);
  }, 120_000);
  afterAll(async () => {
    await svc?.close();
  });

  it("lists a node's credentials, each followed by its associations, with their states", async () => {
    const reply = await dependents('node', 'meter-1');
    expect(reply.status).toBe(200);
    expect(reply.body.root).toEqual({ streamId: 'node-meter-1', kind: 'node', id: 'meter-1', state: 'associated' });
    expect(reply.body.dependents.map((d: Dependent) => [d.streamId, d.parent, d.relation, d.state])).toEqual([
      ['credential-m1-a', 'node-meter-1', 'credential-of-node', 'associated'],
      ['association-m1-a-sa1', 'credential-m1-a', 'association-of-credential', 'associated'],
      ['association-m1-a-sa2', 'credential-m1-a', 'association-of-credential', 'associated'],
      ['credential-m1-b', 'node-meter-1', 'credential-of-node', 'associated'],
      ['association-m1-b-sa', 'credential-m1-b', 'association-of-credential', 'associated'],
    ]);
    expect(reply.body.dependents.every((d: Dependent) => d.cascade === false && d.ending === undefined)).toBe(true);
    expect(reply.body).toMatchObject({ limit: 200, truncated: false, position: expect.stringMatching(/^\d+$/) });

    const credential = await dependents('credential', 'm1-a');
    expect(credential.body.dependents.map((d: Dependent) => d.id)).toEqual(['m1-a-sa1', 'm1-a-sa2']);
    const leaf = await dependents('association', 'm1-a-sa1');
    expect(leaf.body).toMatchObject({ root: { streamId: 'association-m1-a-sa1' }, dependents: [], truncated: false });
  });

  it('cuts the list at `limit` and says so, and not when everything fitted', async () => {
    const cut = await dependents('node', 'meter-1', { limit: '4' });
    expect(cut.body.dependents).toHaveLength(4);
    expect(cut.body).toMatchObject({ limit: 4, truncated: true });
    const exact = await dependents('node', 'meter-1', { limit: '5' });
    expect(exact.body.dependents).toHaveLength(5);
    expect(exact.body.truncated).toBe(false);
  });

  it('lists an App-ID with its instances, named by AE-ID, and its credential', async () => {
    const reply = await dependents('application', 'Rbill');
    expect(reply.status).toBe(200);
    const rows = reply.body.dependents as Dependent[];
    expect(rows.map((d) => [d.streamId, d.parent, d.relation, d.aeId ?? null])).toEqual([
      ['association-Cbill1-sa', 'application-Rbill', 'association-of-application', 'Cbill1'],
      ['association-Cbill2-sa', 'application-Rbill', 'association-of-application', 'Cbill2'],
      ['credential-Rbill-app', 'application-Rbill', 'credential-of-application', null],
    ]);
    // Seen from the credential, the same instances are its associations, and the App-ID is enrolled with it.
    const credential = await dependents('credential', 'Rbill-app');
    expect(credential.body.dependents.map((d: Dependent) => [d.id, d.relation])).toEqual([
      ['Cbill1-sa', 'association-of-credential'],
      ['Cbill2-sa', 'association-of-credential'],
      ['Rbill', 'application-enrolled-with'],
    ]);
  });

  it("shows a node's revocation cascading to its credentials and associations, and a direct revocation as such", async () => {
    // m1-b-sa is revoked on its own first: the node's cascade finds it already ended.
    await run({ type: 'revokeAssociation', data: { associationId: 'm1-b-sa', reason: 'superseded' } });
    await run(body.revokeNode('meter-1', 'keyCompromise'));
    await settled(svc);
    const reply = await dependents('node', 'meter-1');
    const root = reply.body.root;
    expect(root).toMatchObject({ state: 'revoked', ending: { type: 'NodeRevoked', reason: 'keyCompromise' } });
    expect(root.ending.causedBy).toBeUndefined();
    const byId = new Map((reply.body.dependents as Dependent[]).map((d) => [d.id, d]));
    expect(byId.get('m1-a')).toMatchObject({
      state: 'revoked',
      cascade: true,
      ending: { type: 'CredentialRevoked', reason: 'keyCompromise', causedBy: { streamId: 'node-meter-1', type: 'NodeRevoked', position: root.ending.position } },
    });
    for (const sa of ['m1-a-sa1', 'm1-a-sa2']) {
      expect(byId.get(sa), sa).toMatchObject({ state: 'revoked', cascade: true, ending: { type: 'AssociationRevoked', reason: 'keyCompromise' } });
      expect(['node-meter-1', 'credential-m1-a']).toContain(byId.get(sa)!.ending!.causedBy!.streamId);
    }
    expect(byId.get('m1-b')).toMatchObject({ state: 'revoked', cascade: true });
    expect(byId.get('m1-b-sa')).toMatchObject({ state: 'revoked', cascade: false, ending: { type: 'AssociationRevoked', reason: 'superseded' } });
    expect(byId.get('m1-b-sa')!.ending!.causedBy).toBeUndefined();

    // Seen from the credential, the same association was ended by a cascade that did not start there.
    const fromCredential = await dependents('credential', 'm1-a');
    expect(fromCredential.body.root.ending.causedBy).toMatchObject({ streamId: 'node-meter-1' });
    expect(fromCredential.body.dependents.map((d: Dependent) => d.cascade)).toEqual([false, false]);
  });

  it('revoking the App-ID cascades to its credential and instances', async () => {
    await run({ type: 'revokeApplication', data: { appId: 'Rbill', reason: 'privilegeWithdrawn' } });
    await settled(svc);
    const reply = await dependents('application', 'Rbill');
    expect(reply.body.root).toMatchObject({ state: 'revoked', ending: { type: 'ApplicationRevoked' } });
    for (const d of reply.body.dependents as Dependent[]) {
      expect(d, d.streamId).toMatchObject({ state: 'revoked', cascade: true, ending: { reason: 'privilegeWithdrawn' } });
    }
  });

  it('counts entities by kind and state from the read model, and the counts follow a command', async () => {
    const before = await counts();
    expect(before.status).toBe(200);
    expect(before.body.kinds.node).toEqual({ entities: 2, states: { revoked: 1, enrolled: 1 } });
    expect(before.body.kinds.association).toEqual({ entities: 5, states: { revoked: 5 } });
    expect(before.body.kinds.credential.entities).toBe(3);
    expect(before.body.kinds.subscription).toEqual({ entities: 1, states: { active: 1 } });
    expect(before.body.kinds.application).toEqual({ entities: 1, states: { revoked: 1 } });
    const sum = Object.values(before.body.kinds as Record<string, { entities: number }>).reduce((n, k) => n + k.entities, 0);
    expect(before.body.total).toBe(sum);
    expect(BigInt(before.body.position)).toBeGreaterThan(0n);
    expect(before.body.position).toBe(before.body.head);

    await run(body.registerNode('meter-3'));
    const after = await counts();
    expect(after.body.kinds.node).toEqual({ entities: 3, states: { revoked: 1, enrolled: 1, initialized: 1 } });
    const afterSum = Object.values(after.body.kinds as Record<string, { entities: number }>).reduce((n, k) => n + k.entities, 0);
    expect(after.body.total).toBe(afterSum);
    expect(after.body.total).toBeGreaterThan(before.body.total);
    expect(BigInt(after.body.position)).toBeGreaterThan(BigInt(before.body.position));
  });

  it('refuses a bad kind, id or limit naming the field, and answers 404 for an unknown entity', async () => {
    const kind = await dependents('rocket', 'meter-1');
    expect(kind.status).toBe(400);
    expect(kind.body.errors).toEqual([expect.objectContaining({ path: 'params.kind' })]);
    const id = await dependents('node', 'bad id!');
    expect(id.status).toBe(400);
    expect(id.body.errors).toEqual([expect.objectContaining({ path: 'params.id' })]);
    const limit = await dependents('node', 'meter-1', { limit: '100000' });
    expect(limit.status).toBe(400);
    expect(limit.body.errors).toEqual([expect.objectContaining({ path: 'query.limit' })]);
    const unknownQuery = await api.call('GET', '/v1/entities/counts', {}, { token: svc.tokens.auditor, query: { kind: 'node' } });
    expect(unknownQuery.status).toBe(400);
    expect(unknownQuery.body.errors).toEqual([expect.objectContaining({ path: 'query.kind' })]);
    const missing = await dependents('node', 'meter-99');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ type: 'https://credence.dev/problems/not_found', streamId: 'node-meter-99' });
  });

  it('is the read side: operator and admin may, an integrator token is 403', async () => {
    expect((await dependents('node', 'meter-1', {}, svc.tokens.operator)).status).toBe(200);
    expect((await dependents('node', 'meter-1', {}, svc.tokens.admin)).status).toBe(200);
    expect((await dependents('node', 'meter-1', {}, svc.tokens.integrator)).status).toBe(403);
    expect((await api.call('GET', '/v1/entities/counts', {}, { token: svc.tokens.integrator })).status).toBe(403);
    expect((await api.call('GET', '/v1/entities/counts', {})).status).toBe(401);
  });
});

describe('the cascade relations the dependents route reads', () => {
  const tables = (db: ReturnType<typeof openCredence>['readModels']) =>
    ['SELECT * FROM cascade_dependents ORDER BY parent, relation, child', 'SELECT * FROM cascade_endings ORDER BY stream_id', 'SELECT * FROM cascade_instances ORDER BY association'].map(
      (sql) => db.prepare(sql).all(),
    );

  it('are the same after a rebuild from the events, and trace each cascaded ending to the revocation it came from', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    const exec = (x: unknown) => c.engine.execute(x);
    await exec(cmd.createSubscription());
    await exec(cmd.registerNode('gw'));
    await exec(cmd.enrolNode('gw'));
    for (const k of ['gw-c1', 'gw-c2']) {
      await exec(cmd.issueCredential(k, 'gw'));
      await exec(cmd.provisionCredential(k));
    }
    await exec(cmd.configureAssociation('gw-a1', 'gw-c1', 'gw'));
    await exec(cmd.configureAssociation('gw-a2', 'gw-c2', 'gw'));
    await exec(command('revokeNode', { nodeId: 'gw', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();

    const db = c.readModels;
    const walk = walkDependents(db, 'node-gw', 100);
    expect(walk.dependents.map((d) => d.streamId)).toEqual(['credential-gw-c1', 'association-gw-a1', 'credential-gw-c2', 'association-gw-a2']);
    // The process manager caught up only after the revocation. It reads its parents as of each event (issue 15
    // item 5), so it ends everything from the node's revocation, as a live run would: all of it is the node's cascade.
    expect(endingOf(db, 'credential-gw-c1')).toMatchObject({ type: 'CredentialRevoked', byCascade: true });
    expect([...cascadeFrom(db, 'node-gw', walk.dependents).values()]).toEqual([true, true, true, true]);
    // The node was revoked by a command and ended its association itself, before its credential's cascade got there.
    expect(endingOf(db, 'node-gw')).toMatchObject({ byCascade: false });
    expect(endingOf(db, 'association-gw-a1')).toMatchObject({ byCascade: true, causeEventId: endingOf(db, 'node-gw')!.eventId });
    expect([...cascadeFrom(db, 'credential-gw-c1', walkDependents(db, 'credential-gw-c1', 10).dependents).values()]).toEqual([false]);

    const before = tables(db);
    expect(before[1]).toHaveLength(5);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(tables(db)).toEqual(before);
    await c.close();
  });
});
