import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 33: a token put in a request's path came back whole in the 404's `instance` (up to 512 characters) and in
 * its `detail` ("no route GET /v1/nosuch/eyJ..."), though docs/service.md says a detail never carries a secret and the
 * log line already wrote it `[redacted]`. Every problem document now writes such a segment as the log does.
 */
const svc = useTestService();

const answerTo = async (path: string) => {
  const answer = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
  const text = await answer.text();
  return { status: answer.status, text, problem: JSON.parse(text) as { detail?: string; instance?: string } };
};
const expectNoToken = (text: string): void => {
  const token = svc.tokens.operator;
  expect(text).not.toContain(token);
  for (const part of token.split('.')) expect(text).not.toContain(part);
};

describe('a refusal of a path holding a token', () => {
  it('answers 404 with the segment [redacted] in its detail and instance when no route matches it', async () => {
    const { status, text, problem } = await answerTo(`/v1/nosuch/${svc.tokens.operator}`);
    expect(status).toBe(404);
    expectNoToken(text);
    expect(problem.detail).toBe('no route GET /v1/nosuch/[redacted]');
    expect(problem.instance).toBe('/v1/nosuch/[redacted]');
  });

  it('answers without it when a route matches it as a parameter (longer than any identifier: 414, the segment redacted)', async () => {
    const { status, text, problem } = await answerTo(`/v1/entities/node/${svc.tokens.operator}`);
    expect(status).toBe(414);
    expectNoToken(text);
    // Review 219: the 414 names its path too, the segment written [redacted].
    expect(problem.instance).toBe('/v1/entities/node/[redacted]');
  });
});
