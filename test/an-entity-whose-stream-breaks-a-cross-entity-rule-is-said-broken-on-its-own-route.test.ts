import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../domain/ports/event-store.ts';
import { body, openApi, registeredPseudonym, settled, type Api } from './http-conformance.fixtures.ts';
import { forge } from './replay.fixtures.ts';
import { issueCredentialData, profile } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

interface Broken {
  readonly position?: string;
  readonly reason: string;
}

/**
 * Review 237: meter-2 revoked, then a CredentialIssued for forged-1 owned by meter-2 written around the engine (replay
 * refuses it: rule ownerIsLive), and the cascade's CredentialRevoked after it. GET /v1/entities/credential/forged-1
 * answered 200, `state: "revoked"`, with nothing saying the history is broken (the route rebuilds the entity with its
 * own machine's rules only); /v1/replay said `absent` with two findings. (Its timeline is the audit trail, what was
 * recorded: it says so and points to /v1/replay, which judges it, rather than replaying a pseudonym's long stream.)
 * A break of its own machine's rules (a second CredentialIssued) was a 500 there instead. Both are now one answer:
 * 200 with the state as applied and `broken`, the first stored event the entity replay refuses, and why.
 */
describe("an entity whose stream breaks a cross-entity rule is said broken on its own route", () => {
  let svc: TestService;
  let api: Api;
  let pseudonym = '';
  let twice = '';
  const LATER = 'p-forgedaaaaaaaaaaaaaaaaaaaa';
  const command = async (payload: unknown) => expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload })).status).toBe(201);
  const day = 24 * 3600 * 1000;
  const validity = { notBefore: new Date(Date.now() - day).toISOString(), notAfter: new Date(Date.now() + 90 * day).toISOString() };
  const entity = async (kind: string, id: string, token = svc.tokens.auditor) => api.call('GET', '/v1/entities/{kind}/{id}', { kind, id }, { token });

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    const store = svc.service.context.credence.store;
    await command(body.createSubscription());
    for (const n of ['meter-1', 'meter-2']) {
      await command(body.registerNode(n));
      await command(body.enrolNode(n));
    }
    await command(body.issueCredential('cred-1', 'meter-1'));
    await command(body.revokeNode('meter-2'));
    await settled(svc);
    const now = new Date().toISOString();
    await forge(store, 'credential-forged-1', 'CredentialIssued', issueCredentialData('forged-1', 'meter-2', validity) as unknown as JsonObject, now);
    // A break of the machine's own rules: issued twice.
    for (let i = 0; i < 2; i++) await forge(store, 'credential-forged-2', 'CredentialIssued', issueCredentialData('forged-2', 'meter-1', validity) as unknown as JsonObject, now);
    // A pseudonym whose stream holds its node's registration: refused, and its reason names the node.
    pseudonym = await registeredPseudonym(svc, 'meter-3');
    await forge(store, `pseudonym-${pseudonym}`, 'NodeRegistered', { nodeId: 'meter-3', profile } as unknown as JsonObject, now);
    // A pseudonym rotated to twice: its own machine refuses the second, which the list's read model marks.
    twice = await registeredPseudonym(svc, 'meter-4');
    // Resolved before its break (a broken history refuses the resolution): listed to this auditor only (review 281).
    expect((await api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: svc.tokens.auditor, body: { pseudonym: twice, reason: 'review 281' } })).status).toBe(200);
    await forge(store, `pseudonym-${twice}`, 'PseudonymRotated', { pseudonym: twice, nodeId: 'meter-4', epoch: 0, trigger: 'initial' }, now);
    await settled(svc);
    // meter-3 revoked, then registered again (refused), then a rotation of it refused: it reads the node behind that
    // finding, and its reason says so, naming the node.
    await forge(store, 'node-meter-3', 'NodeRevoked', { nodeId: 'meter-3', reason: 'keyCompromise' }, now);
    await forge(store, 'node-meter-3', 'NodeRegistered', { nodeId: 'meter-3', profile } as unknown as JsonObject, now);
    await forge(store, `pseudonym-${LATER}`, 'PseudonymRotated', { pseudonym: LATER, nodeId: 'meter-3', epoch: 1, trigger: 'interval' }, now);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('answers the forged credential with its state as applied and the first event replay refuses, by ownerIsLive', async () => {
    const forged = (await svc.service.context.credence.store.readStream('credential-forged-1'))[0]!;
    const reply = await entity('credential', 'forged-1');
    expect(reply.status).toBe(200);
    expect(reply.body.state).toBe('revoked');
    expect(reply.body.broken).toEqual({
      position: forged.position.toString(10), reason: expect.stringContaining('ownerIsLive'), rule: 'ownerIsLive',
      findingsTotal: 2, findingsByNewerRules: 0, findingsFollowingNewerRules: 0,
    });
  });

  it('says the same of an entity whose stream breaks its own machine, where it was a 500', async () => {
    const second = (await svc.service.context.credence.store.readStream('credential-forged-2'))[1]!;
    const reply = await entity('credential', 'forged-2');
    expect(reply.status).toBe(200);
    expect(reply.body.state).toBe('initialized');
    expect(reply.body.broken).toEqual({ position: second.position.toString(10), reason: expect.any(String), findingsTotal: 1, findingsByNewerRules: 0, findingsFollowingNewerRules: 0 });
  });

  it('says nothing of a sound entity', async () => {
    const reply = await entity('credential', 'cred-1');
    expect(reply.status).toBe(200);
    expect(reply.body).not.toHaveProperty('broken');
  });

  it("refuses an operator a pseudonym's entity, broken or not, naming no node (review 409: it told that the pseudonym exists)", async () => {
    for (const id of [pseudonym, LATER]) {
      const reply = await entity('pseudonym', id, svc.tokens.operator);
      expect(reply.status).toBe(403);
      expect(reply.text).not.toContain('meter-3');
    }
  });

  it("lists a pseudonym's break without its position or reason, which would place it or name its node", async () => {
    const listed = async (token: string) => {
      const reply = await api.call('GET', '/v1/entities', {}, { token, query: { kind: 'pseudonym', limit: '100' } });
      expect(reply.status).toBe(200);
      return (reply.body.items as { id: string; broken?: Broken }[]).find((item) => item.id === twice);
    };
    expect((await api.call('GET', '/v1/entities', {}, { token: svc.tokens.operator, query: { kind: 'pseudonym' } })).status).toBe(403);
    const row = await listed(svc.tokens.auditor);
    expect(row?.broken).toEqual({ reason: expect.stringContaining('where and why: GET /v1/entities/pseudonym/{id}') });
    expect(JSON.stringify(row)).not.toContain('meter-4');
    // A node's row keeps its break's position and reason.
    const node = await api.call('GET', '/v1/entities', {}, { token: svc.tokens.operator, query: { kind: 'credential', limit: '100' } });
    const forged2 = (node.body.items as { id: string; broken?: Broken }[]).find((item) => item.id === 'forged-2');
    expect(forged2?.broken).toEqual({ position: expect.stringMatching(/^\d+$/), reason: expect.any(String) });
  });
});
