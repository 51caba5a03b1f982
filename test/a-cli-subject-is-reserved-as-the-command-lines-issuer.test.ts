/**
 * Review 257 finding 1: an admin could issue a token under the subject `cli:root` (or `cli`). Tokens that token issues
 * were then listed `issuedBy: "cli:root"`, the form access.db records for a token made on the command line, and every
 * command sent with a token issued by subject `cli` recorded `token.issuedBy: "cli"`, as one made on the command line
 * does. `cli` and `cli:…` (any letter case, trimmed) are reserved as `system:…` and `maf:…` are, under the same rule.
 * The command line's own `credence token create --data` still issues, recording its OS account as the issuer.
 */
import { userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { isReservedSubject } from '../adapters/http/auth/reserved-subjects.ts';
import { runCli } from './support/cli.ts';
import { useTestService } from './support/service.ts';

const svc = useTestService({}, 60_000);

describe('a subject that reads as the command line issuing', () => {
  it.each(['cli:root', 'cli', 'CLI', 'Cli:ops-admin', 'cli:'])('POST /v1/tokens refuses the subject %j: 400 reserved_subject naming cli', async (subject) => {
    const response = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject, role: 'admin', ttl: '1h' }),
    });
    expect(response.status, await response.clone().text()).toBe(400);
    const problem = (await response.json()) as { errors: { path: string; rule: string; message: string }[] };
    expect(problem.errors).toEqual([{ path: 'body.subject', rule: 'reserved_subject', message: expect.stringMatching(/system:.*maf:.*cli/) }]);
  });

  it('reserves cli and cli:… trimmed in any case, and nothing that merely starts alike', () => {
    for (const id of ['cli', 'cli:root', ' CLI:Root ', 'Cli', 'cli:']) expect({ id, reserved: isReservedSubject(id) }).toEqual({ id, reserved: true });
    for (const id of ['client', 'clip', 'cli-team', 'alice-cli', 'alice@cli.example', 'cli.ops']) expect({ id, reserved: isReservedSubject(id) }).toEqual({ id, reserved: false });
  });

  it('credence token create --data refuses the subject cli:root (exit 2, nothing issued)', async () => {
    const r = await runCli(['token', 'create', '--role', 'admin', '--subject', 'cli:root', '--ttl', '1h', '--data', svc.dir]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain('reserved');
    expect(r.out).toBe('');
  }, 60_000);

  it('credence token create --data still issues a token, recorded as issued by cli:<OS account>, that the service accepts', async () => {
    const created = await runCli(['token', 'create', '--role', 'operator', '--subject', 'field-op-257', '--ttl', '1h', '--data', svc.dir, '--json']);
    expect(created.code, created.err).toBe(0);
    const { token, tokenId } = JSON.parse(created.out) as { token: string; tokenId: string };
    const listed = await runCli(['token', 'list', '--data', svc.dir, '--json']);
    expect(listed.code, listed.err).toBe(0);
    const row = (JSON.parse(listed.out) as { tokens: { tokenId: string; subject: string; issuedBy: string; state: string }[] }).tokens.find((t) => t.tokenId === tokenId);
    expect(row).toMatchObject({ subject: 'field-op-257', issuedBy: `cli:${userInfo().username}`, state: 'active' });
    const answer = await fetch(`${svc.url}/v1/entities?limit=1`, { headers: { authorization: `Bearer ${token}` } });
    expect(answer.status, await answer.clone().text()).toBe(200);
  }, 60_000);
});
