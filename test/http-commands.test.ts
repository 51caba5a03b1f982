import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { footprint } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { body, openApi, type Api } from './http-conformance.fixtures.ts';

describe('POST /v1/commands', () => {
  let svc: TestService;
  let api: Api;
  const post = (payload: unknown, token = svc.tokens.operator) => api.call('POST', '/v1/commands', {}, { token, body: payload });
  /**
   * The store's footprint once the live runtime is quiet: a command's reactions (the pseudonym a registered node
   * gets, say) are appended by the runtime after the command's answer, so 'nothing appended' is judged only after
   * they have settled, never against them.
   */
  const head = async () => {
    const { store } = svc.service.context.credence;
    for (;;) {
      const seen = await store.headPosition();
      if (seen !== undefined) await svc.service.context.live.caughtUp(seen);
      if ((await store.headPosition()) === seen) return footprint(store);
    }
  };

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    expect((await post(body.createSubscription())).status).toBe(201);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('appends a command: 201 with its events, positions as decimal strings, the actor from the token', async () => {
    const reply = await post(body.registerNode('meter-1'));
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ streamId: 'node-meter-1', state: 'initialized', deduplicated: false });
    const [event] = reply.body.events;
    expect(event).toMatchObject({ streamId: 'node-meter-1', revision: '0', type: 'NodeRegistered', position: expect.stringMatching(/^[1-9][0-9]*$/) });
    expect(event.metadata.actor).toEqual({ id: 'test-operator', role: 'operator' });
    const [stored] = await svc.service.context.credence.store.readStream('node-meter-1');
    expect([stored!.id, stored!.position.toString(10)]).toEqual([event.id, event.position]);
  });

  it('replays a command id it has seen: 200 with the first outcome, nothing appended', async () => {
    const commandId = randomUUID();
    const first = await post({ ...body.registerNode('meter-2'), commandId });
    expect(first.status).toBe(201);
    const before = await head();
    const again = await post({ ...body.registerNode('meter-2'), commandId });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, deduplicated: true });
    expect(await head()).toEqual(before);
  });

  it('refuses a bad body with every field path, and writes nothing', async () => {
    const before = await head();
    const reply = await post({
      type: 'issueCredential',
      data: { credentialId: 'bad id', kind: 'ed25519', purpose: 'nope', owner: { kind: 'node', id: 'meter-1' } },
      commandId: 'not-a-uuid',
    });
    expect(reply.status).toBe(400);
    expect(reply.type).toContain('application/problem+json');
    expect(reply.body.type).toBe('https://credence.dev/problems/validation');
    const paths = (reply.body.errors as { path: string }[]).map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining(['body.data.credentialId', 'body.data.purpose', 'body.data.fingerprint', 'body.data.notBefore', 'body.data.notAfter', 'body.commandId']),
    );
    expect(await head()).toEqual(before);
  });

  it('refuses an actor or metadata in the body: who acts is the token', async () => {
    const before = await head();
    for (const field of ['actor', 'metadata'] as const) {
      const reply = await post({ ...body.registerNode('meter-9'), [field]: { id: 'someone-else', role: 'operator' } });
      expect(reply.status).toBe(400);
      expect(reply.body.errors).toEqual([expect.objectContaining({ path: `body.${field}`, rule: 'unrecognized_key' })]);
    }
    expect(await head()).toEqual(before);
  });

  it('refuses an unknown command type, naming the field', async () => {
    const reply = await post({ type: 'launchRocket', data: {} });
    expect(reply.status).toBe(400);
    expect((reply.body.errors as { path: string }[]).map((e) => e.path)).toContain('body.type');
  });

  it('refuses an illegal transition: 409 with the current state and what it allows, nothing written', async () => {
    await post(body.registerNode('meter-3'));
    const before = await head();
    const reply = await post(body.registerNode('meter-3'));
    expect(reply.status).toBe(409);
    expect(reply.body).toMatchObject({
      type: 'https://credence.dev/problems/illegal_transition',
      streamId: 'node-meter-3',
      state: 'initialized',
      attempted: 'NodeRegistered',
      allowed: ['NodeEnrolled', 'NodeRevoked'],
    });
    expect(await head()).toEqual(before);
  });

  it('refuses a command on an entity that does not exist: 404', async () => {
    const reply = await post(body.revokeCredential('no-such-credential'));
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ type: 'https://credence.dev/problems/not_found', streamId: 'credential-no-such-credential' });
  });

  it('is for operators only: an auditor token is 403', async () => {
    const reply = await post(body.registerNode('meter-4'), svc.tokens.auditor);
    expect(reply.status).toBe(403);
  });

  it('counts commands by type and outcome in /metrics', async () => {
    const text = await (await fetch(`${svc.url}/metrics`)).text();
    expect(text).toMatch(/registerNode.*accepted/);
    expect(text).toMatch(/registerNode.*replayed/);
    expect(text).toMatch(/registerNode.*refused/);
  });
});
