/**
 * Carried over from review 38: nothing bounded how many tokens one subject holds, so one admin token (a leaked one
 * above all) could mint rows of access.db without end, each read by listings and checks. `tokens.maxActivePerSubject`
 * bounds the tokens a subject holds that are neither expired nor revoked; one more is refused naming the subject and
 * the rule, and records nothing. A revoked or expired token makes room again; other subjects are not affected.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/runtime/index.ts';
import { runCli } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-token-cap-');

describe('tokens.maxActivePerSubject over the API', () => {
  const clock = new FakeClock(new Date());
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ clock, config: { tokens: { maxActivePerSubject: 2 } } });
  });
  afterAll(() => svc?.close());

  const issue = async (subject: string, ttl = '1h') => {
    const response = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.tokens.admin}` },
      body: JSON.stringify({ subject, role: 'auditor', ttl }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const recorded = (subject: string): number =>
    svc.service.context.access.list({ limit: 1_000, includeExpired: true }).tokens.filter((t) => t.subject === subject).length;

  it('refuses a third active token of one subject, naming the subject and the rule, and records nothing', async () => {
    expect((await issue('case-team')).status).toBe(201);
    expect((await issue('case-team')).status).toBe(201);
    const refused = await issue('case-team');
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ type: 'https://credence.dev/problems/validation', errors: [{ path: 'body.subject', rule: 'active_tokens' }] });
    expect(JSON.stringify(refused.body)).toContain('case-team holds 2 active tokens');
    expect(refused.body).not.toHaveProperty('token');
    expect(recorded('case-team')).toBe(2);
  });

  it('gives another subject its own room', async () => {
    expect((await issue('other-team')).status).toBe(201);
  });

  it('makes room again when one of them is revoked', async () => {
    const [first] = svc.service.context.access.list({ limit: 1_000 }).tokens.filter((t) => t.subject === 'case-team');
    const revoked = await fetch(`${svc.url}/v1/tokens/${first!.tokenId}`, { method: 'DELETE', headers: { authorization: `Bearer ${svc.tokens.admin}` } });
    expect(revoked.status).toBeLessThan(300);
    expect((await issue('case-team')).status).toBe(201);
    expect((await issue('case-team')).status).toBe(400);
  });

  it('makes room again when they expire', async () => {
    expect((await issue('short-lived', '1m')).status).toBe(201);
    expect((await issue('short-lived', '1m')).status).toBe(201);
    expect((await issue('short-lived', '1m')).status).toBe(400);
    clock.advance(61_000);
    expect((await issue('short-lived', '1m')).status).toBe(201);
  });
});

describe('tokens.maxActivePerSubject on the command line', () => {
  it('refuses one more token of the subject with exit 2, and records nothing', async () => {
    const dir = folder();
    const config = join(dir, 'credence.json');
    writeFileSync(config, JSON.stringify({ data: join(dir, 'data'), tokens: { maxActivePerSubject: 1 } }));
    const create = () => runCli(['token', 'create', '--config', config, '--role', 'operator', '--subject', 'field-ops', '--ttl', '1h']);
    const first = await create();
    expect(first.code, first.err).toBe(0);
    const refused = await create();
    expect(refused.out).toBe('');
    expect(refused.err).toContain('field-ops holds 1 active token, the most one subject may (tokens.maxActivePerSubject)');
    expect(refused.code).toBe(2);
    const listed = await runCli(['token', 'list', '--config', config, '--json']);
    expect(listed.code, listed.err).toBe(0);
    expect((JSON.parse(listed.out) as { tokens: unknown[] }).tokens).toHaveLength(1);
  });
});
