import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../domain/ports/event-store.ts';
import { openApi, registeredPseudonym, settled, type Api } from './http-conformance.fixtures.ts';
import { forge } from './replay.fixtures.ts';
import { profile } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * A pseudonym whose stored history its replay refuses (events written around the engine): POST /v1/pseudonyms/resolutions
 * answered 500 `broken_history`, whose reason named the node to an auditor who had not resolved it, or (a rotation refused
 * by a rule reading its node) recorded the resolution. Now, where the engine records no command on it (its own machine
 * refuses a stored event), a typed 409 naming the pseudonym, why and what to do, recording nothing; where the engine
 * decides on it, the resolution is recorded and its read carries the break.
 */
describe('a pseudonym with a broken history is resolved with a typed answer', () => {
  let svc: TestService;
  let api: Api;
  const p = { twice: '', addressed: '', again: '', resolvedBefore: '' };
  const entity = (id: string) => api.call('GET', '/v1/entities/{kind}/{id}', { kind: 'pseudonym', id }, { token: svc.tokens.auditor });
  const replay = (id: string) => api.call('GET', '/v1/replay/{kind}/{id}', { kind: 'pseudonym', id }, { token: svc.tokens.auditor });
  const resolve = (id: string) => api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: svc.tokens.auditor, body: { pseudonym: id, reason: 'case 953' } });
  const head = () => svc.service.context.credence.store.headPosition();

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    const store = svc.service.context.credence.store;
    p.twice = await registeredPseudonym(svc, 'meter-1');
    p.addressed = await registeredPseudonym(svc, 'meter-2');
    p.again = await registeredPseudonym(svc, 'meter-3');
    p.resolvedBefore = await registeredPseudonym(svc, 'meter-5');
    expect((await resolve(p.resolvedBefore)).status).toBe(200);
    await settled(svc);
    const now = new Date().toISOString();
    // Its own machine refuses a second rotation onto it: the engine decides no command on it.
    await forge(store, `pseudonym-${p.twice}`, 'PseudonymRotated', { pseudonym: p.twice, nodeId: 'meter-1', epoch: 0, trigger: 'initial' }, now);
    await forge(store, `pseudonym-${p.resolvedBefore}`, 'PseudonymRotated', { pseudonym: p.resolvedBefore, nodeId: 'meter-5', epoch: 0, trigger: 'initial' }, now);
    // Its node's registration stored in its stream: the engine's refusal names the node.
    await forge(store, `pseudonym-${p.addressed}`, 'NodeRegistered', { nodeId: 'meter-2', profile } as unknown as JsonObject, now);
    // A resolution recorded under the command id of its rotation: the replay refuses it, the engine's rebuild does not.
    const rotation = (await store.readStream(`pseudonym-${p.again}`))[0]!;
    await forge(store, `pseudonym-${p.again}`, 'PseudonymResolved', { pseudonym: p.again, reason: 'forged' }, now, String(rotation.metadata['commandId']));
  });
  afterAll(async () => {
    await svc?.close();
  });

  /** Resolves `id` as an auditor who has not, expecting a 409 that records nothing and names no node. */
  const refused = async (id: string, node: string) => {
    // Review 409: its entity is refused as its replay is, to an auditor that has not resolved it.
    expect((await entity(id)).status).toBe(403);
    expect((await replay(id)).status).toBe(403);
    const at = await head();
    const reply = await resolve(id);
    expect(reply.status).toBe(409);
    expect(reply.body).toMatchObject({ type: expect.stringContaining('broken_history'), pseudonym: id, streamId: `pseudonym-${id}`, reason: expect.any(String) });
    expect(reply.body).not.toHaveProperty('position');
    expect(String(reply.body.detail)).toContain('nothing was recorded');
    expect(String(reply.body.detail)).toContain('credence replay');
    expect(JSON.stringify(reply.body)).not.toContain(node);
    expect(await head()).toBe(at);
    // Still unresolved: its entity and its replay are refused.
    expect((await entity(id)).status).toBe(403);
    expect((await replay(id)).status).toBe(403);
    return reply;
  };

  it('refuses a pseudonym its own machine refuses a later event of with a 409 naming it, recording nothing', async () => {
    await refused(p.twice, 'meter-1');
  });

  it("refuses one whose stream holds its node's event without naming the node, where the 500 named it", async () => {
    const reply = await refused(p.addressed, 'meter-2');
    expect(reply.body.reason).toContain('which one is told to an auditor who resolved the pseudonym');
  });

  it('tells an auditor who resolved it before its break where the break is', async () => {
    const at = await head();
    const reply = await resolve(p.resolvedBefore);
    expect(reply.status).toBe(409);
    const stored = (await svc.service.context.credence.store.readStream(`pseudonym-${p.resolvedBefore}`)).at(-1)!;
    expect(reply.body).toMatchObject({ pseudonym: p.resolvedBefore, position: stored.position.toString(10) });
    expect(await head()).toBe(at);
  });

  it('records and answers one the engine decides on, though its replay refuses an event of it', async () => {
    expect((await entity(p.again)).status).toBe(403);
    const reply = await resolve(p.again);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ pseudonym: p.again, nodeId: 'meter-3', epoch: 0 });
    const after = await entity(p.again);
    expect(after.body.broken).toMatchObject({ reason: expect.any(String), position: expect.any(String) });
    expect(after.body.context).toMatchObject({ nodeId: 'meter-3', epoch: 0 });
  });
});
