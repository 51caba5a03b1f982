import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, settled } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Found in review 59: a retried on-demand rotation aims at the node's next epoch, a new stream, so the engine does not
 * find its command id there. The earlier rotation under that id was looked up only when the engine refused the id as
 * reused, which it does only while the node is live: a client that lost the answer (a timeout, a 5xx) and sent the
 * same `commandId` again after the node was revoked was told `409 rotation_refused`, though its rotation was stored.
 */
describe('POST /v1/pseudonyms/rotations sent again with its commandId', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
    for (const node of ['retried-meter', 'other-meter', 'revoked-other-meter']) {
      expect((await post('/v1/commands', body.registerNode(node))).status).toBe(201);
    }
    await settled(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  const post = async (path: string, json: unknown, token = svc.tokens.operator) => {
    const response = await fetch(`${svc.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(json),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const revoke = async (nodeId: string) => {
    expect((await post('/v1/commands', body.revokeNode(nodeId))).status).toBe(201);
    await settled(svc);
  };
  const events = async (): Promise<number> => {
    let count = 0;
    for await (const _ of svc.service.context.credence.store.readAll()) count++;
    return count;
  };

  const commandId = randomUUID();
  const REFUSED = 'https://credence.dev/problems/rotation_refused';

  it('answers the first rotation as a duplicate once the node is revoked, and appends nothing', async () => {
    const first = await post('/v1/pseudonyms/rotations', { nodeId: 'retried-meter', commandId });
    expect(first).toEqual({ status: 201, body: { nodeId: 'retried-meter', epoch: 1, deduplicated: false } });
    // The directory takes the rotation in: a retry now aims at epoch 2, a stream the id is not on.
    await settled(svc);
    expect(await post('/v1/pseudonyms/rotations', { nodeId: 'retried-meter', commandId })).toEqual({
      status: 200,
      body: { nodeId: 'retried-meter', epoch: 1, deduplicated: true },
    });
    await revoke('retried-meter');

    const before = await events();
    const retried = await post('/v1/pseudonyms/rotations', { nodeId: 'retried-meter', commandId });
    expect(retried).toEqual({ status: 200, body: { nodeId: 'retried-meter', epoch: 1, deduplicated: true } });
    await settled(svc);
    expect(await events()).toBe(before);
  });

  it("refuses the id to another operator for the same node: the first outcome is only its sender's to hear", async () => {
    const { token } = await svc.service.context.access.issue({ subject: 'another-operator', role: 'operator', ttlSeconds: 600, issuedBy: 'test' });
    const before = await events();
    expect(await post('/v1/pseudonyms/rotations', { nodeId: 'retried-meter', commandId }, token)).toMatchObject({
      status: 400,
      body: { errors: [{ path: 'body.commandId', rule: 'idempotency', message: `${commandId} was already used by another actor` }] },
    });
    expect(await events()).toBe(before);
  });

  it('still refuses a revoked node a rotation under a new id, and one without an id', async () => {
    const before = await events();
    for (const request of [{ nodeId: 'retried-meter', commandId: randomUUID() }, { nodeId: 'retried-meter' }]) {
      const refused = await post('/v1/pseudonyms/rotations', request);
      expect(refused).toMatchObject({
        status: 409,
        body: {
          type: REFUSED,
          detail: expect.stringMatching(/^retried-meter cannot rotate: PseudonymRotated refused in state absent by rule nodeIsLive: a pseudonym is taken by a live node .*; its node is revoked, and this rotation is epoch 2 \(trigger demand\)$/),
        },
      });
      expect((refused.body as { detail: string }).detail).not.toMatch(/p-[a-z2-7]{26}|pseudonym-/);
    }
    expect(await events()).toBe(before);
  });

  it("does not answer the id for another node as that node's duplicate: refused as a reused id, as /v1/commands does", async () => {
    const before = await events();
    const rotation = await post('/v1/pseudonyms/rotations', { nodeId: 'other-meter', commandId });
    const command = await post('/v1/commands', { ...body.revokeNode('other-meter'), commandId });
    expect(command).toMatchObject({ status: 400, body: { errors: [{ path: 'body.commandId', rule: 'idempotency' }] } });
    const { requestId: _r, instance: _i, ...refusal } = rotation.body;
    const { requestId: _c, instance: _j, ...commandRefusal } = command.body;
    expect([rotation.status, refusal]).toEqual([command.status, commandRefusal]);
    // Revoked, the other node is never answered with the first node's rotation: refused as a reused id, as a live one
    // is (review 78: refused by the node's rule, the answer told whoever reused the id that it had gone elsewhere).
    await revoke('revoked-other-meter');
    const afterRevocation = await events();
    const revokedOther = await post('/v1/pseudonyms/rotations', { nodeId: 'revoked-other-meter', commandId });
    const { requestId: _k, instance: _l, ...revokedRefusal } = revokedOther.body;
    expect([revokedOther.status, revokedRefusal]).toEqual([command.status, commandRefusal]);
    expect(await events()).toBe(afterRevocation);
    expect(afterRevocation).toBe(before + 1);
  });
});
