import { describe, expect, it } from 'vitest';
import { openStream } from './http-sse.fixtures.ts';
import { problemServer } from './support/canned-server.ts';
import { runCli } from './support/cli.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 229: GET /v1/events checked a `stream` value for its `<kind>-<id>` form only, so `node-a b`,
 * `credential-<NUL>`, `application-not-an-app-id` (an App-ID starts with R or N) or an auditor's `pseudonym-p-x` were
 * answered 200 and then heartbeats for ever: no entity can have such an id, and the stream held one of the few
 * places in silence, as a filter of what is never published or never told did before reviews 28 and 223. Each id is
 * now checked by its kind's own rule (domain/entity-ids.ts, the table the CLI's `<stream>` uses), a 400 naming
 * `query.stream.<i>`; a valid id of an entity not there yet is still followed (its stream may begin later).
 */

const svc = useTestService({ config: { limits: { sseHeartbeatMs: 50 } } });

const PSEUDONYM = `p-${'a'.repeat(26)}`;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]|\\u00[01][0-9a-f]|\\u007f/i;

/** The answer's status and, unless it is a stream (then closed at once: it would never end), its text. */
const refusal = async (token: string, query: string): Promise<{ status: number; text: string }> => {
  const connection = new AbortController();
  const response = await fetch(new URL(`/v1/events?${query}`, svc.url), {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
    signal: connection.signal,
  });
  if (response.ok) {
    connection.abort();
    return { status: response.status, text: '' };
  }
  return { status: response.status, text: await response.text() };
};

describe('a stream filter naming an id no entity can have is refused', () => {
  it.each([
    ['a node id with a space', 'operator', 'stream=node-a%20b', 'query.stream.0'],
    ['a credential id of a NUL', 'operator', 'stream=credential-%00', 'query.stream.0'],
    ['an App-ID starting with neither R nor N', 'operator', 'stream=application-not-an-app-id', 'query.stream.0'],
    ["an auditor's pseudonym that is not p- and 26 base32 characters", 'auditor', 'stream=pseudonym-p-x', 'query.stream.0'],
    ['the second of a list, named by its index', 'auditor', 'stream=node-meter-1,subscription-a%2Fb', 'query.stream.1'],
    ['a repeated parameter, named by its index', 'operator', 'stream=node-meter-1&stream=association-%7Ex', 'query.stream.1'],
  ] as const)('%s: 400 naming the value and the rule', async (_, role, query, path) => {
    const { status, text } = await refusal(svc.tokens[role], query);
    expect(status, text).toBe(400);
    const problem = JSON.parse(text) as { errors: Array<{ path: string; rule: string; message: string }> };
    expect(problem.errors).toEqual([{ path, rule: 'invalid_format', message: expect.stringMatching(/^the id after [a-z]+-: /) }]);
  });

  it('echoes no control character the value held', async () => {
    for (const query of ['stream=credential-%00', 'stream=node-a%1Bb', 'stream=node-%7F', 'stream=pseudonym-%C2%85']) {
      const { status, text } = await refusal(svc.tokens.operator, query);
      expect(status, query).toBe(400);
      expect(text, query).not.toMatch(CONTROL);
    }
  });

  it('still follows a valid id of an entity not there yet, of every kind', async () => {
    const streams = ['node-not-yet-1', 'credential-cred.later:1', 'application-Rlater', 'association-assoc~1', 'subscription-sub_later'];
    for (const [role, query] of [
      ['operator', `stream=${streams.join(',')}`],
      ['auditor', `stream=pseudonym-${PSEUDONYM}`],
    ] as const) {
      const served = await openStream(svc.url, svc.tokens[role], `/v1/events?${query}`);
      served.close();
      expect(served.status, JSON.stringify(served.problem)).toBe(200);
    }
  });
});

describe('credence events --stream with an id no entity can have', () => {
  const server = problemServer(400, JSON.stringify({ type: 'about:blank', title: 'validation', status: 400 }));
  const { requests } = server;

  it('is bad usage naming the option and the id rule of its kind, and sends nothing', async () => {
    const r = await runCli(['events', '--server', server.url, '--token', 'some-token', '--stream', 'node-meter-1', '--stream', 'application-not-an-app-id', '--limit', '1']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/--stream.*the id after application-: App-ID must start with R/);
    expect(requests).toEqual([]);
  });

  it('still sends a valid id of every kind', async () => {
    requests.length = 0;
    const r = await runCli(['events', '--server', server.url, '--token', 'some-token', '--stream', 'application-Rlater', '--stream', `pseudonym-${PSEUDONYM}`, '--limit', '1']);
    expect(r.code, r.err).toBe(1);
    expect(requests).toHaveLength(1);
  });
});
