/**
 * Review 189 item 2: since review 188 each command the service admits from a token records `metadata.token:
 * { id, issuedBy }`, issuedBy read from access.db. A token made with `credence token create --data` is recorded there
 * as issued by `cli:<OS username>`, so every command sent with it wrote the OS account name into the immutable log
 * (the canonical stream, timelines, compliance rows, evidence bundles), where before it lived only in access.db
 * (admin-only, forgotten 30 days after the token expires). The log now records such a token as issued by `cli`
 * ("made on the command line by whoever may write the data folder"); access.db keeps the OS account as before, and a
 * token issued through the service keeps its issuer's subject. Since review 257 no subject may be `cli` or begin
 * `cli:` (test/a-cli-subject-is-reserved-as-the-command-lines-issuer.test.ts), so the two cannot be confused.
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { body } from './http-conformance.fixtures.ts';
import { runCli } from './support/cli.ts';
import { useTestService } from './support/service.ts';

const svc = useTestService({}, 60_000);

const send = async (token: string, nodeId: string): Promise<void> => {
  const response = await fetch(`${svc.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body.registerNode(nodeId), commandId: randomUUID() }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
};

const recorded = async (nodeId: string) => {
  const [event] = await svc.service.context.credence.store.readStream(`node-${nodeId}`);
  expect(event).toBeDefined();
  return event!;
};

describe('a command sent over HTTP with a token made on the command line (credence token create --data)', () => {
  it('records the token as issued by `cli`; no OS account name is in the stored event, and access.db still names it', async () => {
    const osAccount = userInfo().username;
    const created = await runCli(['token', 'create', '--role', 'operator', '--subject', 'field-op', '--ttl', '1h', '--data', svc.dir, '--json']);
    expect(created.code, created.err).toBe(0);
    const { token, tokenId } = JSON.parse(created.out) as { token: string; tokenId: string };

    await send(token, 'meter-189-local');

    const event = await recorded('meter-189-local');
    expect(event.metadata['actor']).toEqual({ id: 'field-op', role: 'operator' });
    expect(event.metadata['token']).toEqual({ id: tokenId, issuedBy: 'cli' });
    // The whole stored event (its position is a bigint), as the stream, the timeline and a bundle would carry it.
    const stored = JSON.stringify(event, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
    expect(stored).not.toContain(`cli:${osAccount}`);
    expect(stored).not.toContain(osAccount);

    // access.db (admin-only, forgotten 30 days after the token expires) keeps who made it, as before.
    const listed = await runCli(['token', 'list', '--data', svc.dir, '--json']);
    expect(listed.code, listed.err).toBe(0);
    const tokens = (JSON.parse(listed.out) as { tokens: { tokenId: string; issuedBy: string }[] }).tokens;
    expect(tokens.find((t) => t.tokenId === tokenId)?.issuedBy).toBe(`cli:${osAccount}`);
  }, 60_000);

  it('a token issued through the service keeps its issuer subject', async () => {
    const issue = async (withToken: string, subject: string, role: string): Promise<{ token: string; tokenId: string }> => {
      const response = await fetch(`${svc.url}/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${withToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject, role, ttl: '30m' }),
      });
      expect(response.status, await response.clone().text()).toBe(201);
      return (await response.json()) as { token: string; tokenId: string };
    };
    const admin = await issue(svc.tokens.admin, 'ops-admin', 'admin');
    const operator = await issue(admin.token, 'field-op-2', 'operator');

    await send(operator.token, 'meter-189-service');

    expect((await recorded('meter-189-service')).metadata['token']).toEqual({ id: operator.tokenId, issuedBy: 'ops-admin', issuedWith: admin.tokenId });
  }, 60_000);
});
