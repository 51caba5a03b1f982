/**
 * Review 219: a path segment was written `[redacted]` in the log (and in a problem's `instance`) when it held a JWT,
 * but not when it began as the other well-known secret tokens do (SECRET_TOKEN_PREFIXES: GitHub's `ghp_`, Slack's
 * `xoxb-`, an AWS key id's `AKIA`…), so `/v1/ghp_…` was logged whole, unlike the same value in a header or a query
 * value. Now such a segment is redacted too, written plainly or escaped; other segments are kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

const SECRETS = {
  github: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
  slack: 'xoxb-2024-1234567890-abcdefABCDEF',
  aws: 'AKIAIOSFODNN7EXAMPLE',
  stripe: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
} as const;

describe('a path segment beginning as a secret token is logged [redacted]', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  /** GETs `path`; the problem answered and the log lines of that request. */
  const requested = async (path: string) => {
    const response = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    const requestId = response.headers.get('x-request-id')!;
    const problem = (await response.json()) as { instance?: string };
    // The response's line is written as it is sent: wait for it.
    for (let i = 0; i < 100 && !svc.logs().some((l) => l.includes(requestId) && l.includes('request completed')); i++) await new Promise((r) => setTimeout(r, 20));
    return { problem, lines: svc.logs().filter((l) => l.includes(requestId)) };
  };

  it.each([
    ['GitHub token as a segment of its own', `/v1/${SECRETS.github}`, SECRETS.github, '/v1/[redacted]'],
    ['GitHub token escaped', `/v1/ghp%5F${SECRETS.github.slice(4)}`, SECRETS.github.slice(4), '/v1/[redacted]'],
    ['Slack token as an entity id', `/v1/entities/node/${SECRETS.slack}`, SECRETS.slack, '/v1/entities/node/[redacted]'],
    ['AWS key id after a word', `/v1/entities/node/node-${SECRETS.aws}`, SECRETS.aws, '/v1/entities/node/[redacted]'],
    ['Stripe key as a kind', `/v1/entities/${SECRETS.stripe}/x`, SECRETS.stripe, '/v1/entities/[redacted]/x'],
  ])('a %s is [redacted] in every log line and in the instance', async (_what, path, secret, instance) => {
    const { problem, lines } = await requested(path);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).not.toContain(secret);
    expect(lines.some((l) => l.includes(instance))).toBe(true);
    expect(problem.instance).toBe(instance);
  });

  it('keeps a segment that begins as no secret token does', async () => {
    const { problem, lines } = await requested('/v1/entities/node/meter-ghp-7');
    expect(lines.some((l) => l.includes('"url":"/v1/entities/node/meter-ghp-7"'))).toBe(true);
    expect(problem.instance).toBe('/v1/entities/node/meter-ghp-7');
  });
});
