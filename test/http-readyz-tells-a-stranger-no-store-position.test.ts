import { describe, expect, it } from 'vitest';
import { body } from './http-conformance.fixtures.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 50: the public /readyz answered the store's head, so anyone polling it watched the log grow: every command,
 * the pseudonym rotations the integrators' stream hides, a revocation cascade's size as one jump. It now says ready or
 * not (and why); positions are for a token, at GET /v1/projections.
 */
const svc = useTestService({ config: { probePort: 0 } });

const readyz = async (base: string, token?: string): Promise<Record<string, unknown>> => {
  const answer = await fetch(`${base}/readyz`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  expect(answer.status).toBe(200);
  return (await answer.json()) as Record<string, unknown>;
};

let commands = 0;
/** Appends to the log: an operator's command, as anything the service records. */
const growTheLog = async (): Promise<void> => {
  const sent = await fetch(`${svc.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify(body.createSubscription(`readyz-sub-${++commands}`)),
  });
  expect(sent.status).toBeLessThan(300);
};

describe('GET /readyz', () => {
  it('tells a caller without a token ready or not, and no store position, on the API port and the probe port', async () => {
    for (const base of [svc.url, svc.service.probeUrl!]) {
      const ready = await readyz(base);
      expect(ready).toMatchObject({ status: 'ready' });
      expect(ready).not.toHaveProperty('head');
      expect(JSON.stringify(ready)).not.toMatch(/position|head|checkpoint/i);
    }
  });

  it('is the same answer with a token: a probe is no place to authenticate (positions are at /v1/projections)', async () => {
    expect(await readyz(svc.url, svc.tokens.operator)).toEqual(await readyz(svc.url));
  });

  it('answers a stranger the same before and after the log grows', async () => {
    const before = await readyz(svc.url);
    await growTheLog();
    await expect.poll(() => readyz(svc.url)).toEqual(before);
  });

  it('leaves the positions to a token: GET /v1/projections names the head', async () => {
    await growTheLog();
    const answer = await fetch(`${svc.url}/v1/projections`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(answer.status).toBe(200);
    const { components } = (await answer.json()) as { components: { head?: string }[] };
    expect(components.some((c) => /^\d+$/.test(c.head ?? ''))).toBe(true);
    expect((await fetch(`${svc.url}/v1/projections`)).status).toBe(401);
  });
});
