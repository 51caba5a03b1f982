import { describe, expect, it } from 'vitest';
import { problemServer } from './support/canned-server.ts';
import { runCli } from './support/cli.ts';

// A stream is named by canonical identifiers; the server refuses `stream` on a pseudonymous stream with a 400
// (parsePublicFilter, rule not_public). The CLI says so itself, as it does of its other bad filters.

describe('credence events --stream with --identifiers pseudonymous', () => {
  // Answers as the real server would, so a request that got through shows as exit 1 as well as here.
  const server = problemServer(400, JSON.stringify({ type: 'about:blank', title: 'validation', status: 400, detail: 'query.stream: canonical stream ids are not public' }));
  const { requests } = server;

  it('is bad usage naming both options and the rule, and sends nothing', async () => {
    const r = await runCli(['events', '--server', server.url, '--token', 'some-token', '--stream', 'node-meter-1', '--identifiers', 'pseudonymous', '--limit', '1']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/^error: --stream: takes canonical identifiers only, so not with --identifiers pseudonymous\b/);
    expect(requests).toEqual([]);
  });

  // A guard on the refusal's reach: it holds with or without the fix.
  it('still sends a stream filter with canonical identifiers', async () => {
    requests.length = 0;
    const r = await runCli(['events', '--server', server.url, '--token', 'some-token', '--stream', 'node-meter-1', '--identifiers', 'canonical', '--limit', '1']);
    expect(r.code, r.err).toBe(1);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toContain('stream=node-meter-1');
  });
});
