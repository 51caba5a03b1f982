// A derived command id (an RFC 9562 version 8 UUID, domain/event-ids.ts) is the engine's alone: a sender who is not
// the system cannot record a command under one. Found in review, reproduced over HTTP: an operator recorded a
// provisioning under the id the cascade would derive for revoking that credential, then revoked the node under the
// id the derivation started from; the cascade took its revocation as done, and the credential stayed enrolled under
// a revoked node (RS-16, HLR-212, seed 003 11.2.2).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { clientCommandId, derivedCommandId, eventIdFor, isDerivedCommandId } from '../domain/event-ids.ts';
import { PROCESS_MANAGER_ACTOR } from '../projections/cascade/index.ts';
import { PseudonymDeriver, resolvePseudonym } from '../projections/pseudonyms/index.ts';
import { body, openApi, type Api } from './http-conformance.fixtures.ts';
import { auditor, cmd, fixture, footprint, operator, rejection, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/** The id the cascade derives for revoking `credentialId` when the node is revoked under `revokeNodeId`. */
const cascadeRevokeId = (credentialId: string, revokeNodeId: string): string =>
  derivedCommandId(`cascade:revokeCredential:${credentialId}`, eventIdFor(revokeNodeId, 0));

const reservedIssue = { path: 'metadata.commandId', rule: 'reserved_command_id' };

describe('over HTTP, the review repro', () => {
  let svc: TestService;
  let api: Api;
  const post = (payload: unknown) => api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload });
  /** The store's footprint once the live runtime is quiet (reactions are appended after a command's answer). */
  const settled = async () => {
    const { store } = svc.service.context.credence;
    for (;;) {
      const seen = await store.headPosition();
      if (seen !== undefined) await svc.service.context.live.caughtUp(seen);
      if ((await store.headPosition()) === seen) return footprint(store);
    }
  };
  const state = async (kind: 'node' | 'credential', id: string) => (await svc.service.context.credence.engine.entity(kind, id)).snapshot.value;

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    for (const step of [
      body.createSubscription(), body.registerNode('zz-n1'), body.enrolNode('zz-n1'),
      body.issueCredential('zz-c1', 'zz-n1'), body.issueCredential('zz-c2', 'zz-n1'), body.provisionCredential('zz-c2'),
    ]) {
      expect((await post(step)).status).toBe(201);
    }
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('refuses a command under the cascade id to come with 400 reserved_command_id, and writes nothing', async () => {
    const revokeId = randomUUID();
    const before = await settled();
    const planted = await post({ ...body.provisionCredential('zz-c1'), commandId: cascadeRevokeId('zz-c1', revokeId) });
    expect(planted.status).toBe(400);
    expect(planted.body.errors).toEqual([expect.objectContaining({ path: 'body.commandId', rule: 'reserved_command_id' })]);
    expect(await settled()).toEqual(before);
    expect(await state('credential', 'zz-c1')).toBe('initialized');

    // The node's revocation under the chosen id then cascades to both of its credentials.
    expect((await post({ ...body.revokeNode('zz-n1'), commandId: revokeId })).status).toBe(201);
    await settled();
    expect(await state('node', 'zz-n1')).toBe('revoked');
    expect(await state('credential', 'zz-c1')).toBe('revoked');
    expect(await state('credential', 'zz-c2')).toBe('revoked');
    const [revoked] = (await svc.service.context.credence.store.readStream('credential-zz-c1')).slice(-1);
    expect(revoked!.metadata).toMatchObject({ actor: PROCESS_MANAGER_ACTOR, commandId: cascadeRevokeId('zz-c1', revokeId), commandType: 'revokeCredential' });
  });
});

describe('the engine', () => {
  it('refuses a version 8 command id from an operator, before reading anything, and writes nothing', async () => {
    const { engine, store } = fixture();
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('meter-1'));
    const before = await footprint(store);
    // Any version 8 id, in either letter case: the version digit alone decides.
    const derived = derivedCommandId('anything', randomUUID());
    for (const commandId of [derived, derived.toUpperCase(), '00000000-0000-8000-8000-000000000000']) {
      const refused = await rejection(engine.execute({ ...cmd.enrolNode('meter-1'), metadata: { actor: operator, commandId } }));
      expect(refused.problem).toMatchObject({ code: 'validation', issues: [expect.objectContaining(reservedIssue)] });
    }
    expect(await footprint(store)).toEqual(before);
  });

  it('accepts a version 8 id from its own system actors, and a random one from anyone', async () => {
    const { engine } = fixture();
    await engine.execute(cmd.createSubscription());
    const derived = derivedCommandId('cascade:test', randomUUID());
    const asSystem = await engine.executeAsSystem({ ...cmd.registerNode('meter-1'), metadata: { actor: PROCESS_MANAGER_ACTOR, commandId: derived } });
    expect([asSystem.commandId, asSystem.deduplicated]).toEqual([derived, false]);
    expect((await engine.execute({ ...cmd.registerNode('meter-2'), metadata: { actor: operator, commandId: randomUUID() } })).deduplicated).toBe(false);
  });

  it("refuses an operator's on-demand rotation and an auditor's resolution under a derived id the same way", async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), pseudonyms: { key: testKey } });
    await c.engine.execute(cmd.registerNode('meter-1'));
    await c.settle();
    const before = await footprint(c.store);
    // The id the node's rotation on its next association will derive, say: a pseudonym stream's command under it
    // would take it.
    const derived = derivedCommandId('pseudonym:association:meter-1', randomUUID());
    const rotation = await rejection(c.pseudonyms!.rotateNow('meter-1', operator, derived));
    expect(rotation.problem).toMatchObject({ code: 'validation', issues: [expect.objectContaining(reservedIssue)] });
    const pseudonym = await new PseudonymDeriver(testKey).node('meter-1', 0);
    const resolution = await rejection(resolvePseudonym(c.engine, { pseudonym, reason: 'incident 7', actor: auditor, commandId: derived }));
    expect(resolution.problem).toMatchObject({ code: 'validation', issues: [expect.objectContaining(reservedIssue)] });
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });
});

describe('a command id a client derives', () => {
  it('is the same for the same name and source, a UUID outside the engine\'s space, and accepted from an operator', async () => {
    const id = clientCommandId('device-init/register', '{"nodeId":"meter-1"}');
    expect(clientCommandId('device-init/register', '{"nodeId":"meter-1"}')).toBe(id);
    expect(clientCommandId('device-init/register', '{"nodeId":"meter-2"}')).not.toBe(id);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(isDerivedCommandId(id)).toBe(false);
    expect(isDerivedCommandId(derivedCommandId('device-init/register', '{"nodeId":"meter-1"}'))).toBe(true);
    const { engine } = fixture();
    const outcome = await engine.execute({ ...cmd.createSubscription('sub-client-id'), metadata: { actor: operator, commandId: id } });
    expect([outcome.commandId, outcome.deduplicated]).toEqual([id, false]);
  });
});
