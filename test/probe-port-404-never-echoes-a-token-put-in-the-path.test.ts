import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 49 (4th finding of its list, item 9): the probe port's 404 repeated the raw path in its `detail`, a JWT put in
 * the path included, while the API port's said `/x/[redacted]` (review 33). Both now write the path the way the log does.
 */
const svc = useTestService({ config: { probePort: 0 } });

const expectNoToken = (text: string): void => {
  const token = svc.tokens.operator;
  expect(text).not.toContain(token);
  for (const part of token.split('.')) expect(text).not.toContain(part);
};

describe('a path holding a token on the probe port', () => {
  it('is answered 404 with the segment [redacted], and neither the body nor the log holds the token', async () => {
    const answer = await fetch(`${svc.service.probeUrl!}/x/${svc.tokens.operator}?limit=1`);
    const text = await answer.text();
    expect(answer.status).toBe(404);
    expectNoToken(text);
    const problem = JSON.parse(text) as { detail?: string; instance?: string };
    expect(problem.detail).toBe('no route GET /x/[redacted] on the probe port (/healthz, /readyz, /metrics)');
    expect(problem.instance).toBe('/x/[redacted]');
    expectNoToken(svc.logs().join('\n'));
  });
});
