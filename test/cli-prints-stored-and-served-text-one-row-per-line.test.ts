import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { recordAsAnEarlierVersion, subscriptionOfAnEarlierVersion } from './support/recorded-by-an-earlier-version.ts';

/*
 * Found in review: `credence query` wrote each value raw (`String(v)`), so an operator-supplied correlationId holding a
 * line break and escape sequences planted a fake row and terminal escapes in an auditor's output; `history` and
 * `state` did the same with an actor, a reason or a finding's reason from the store or the server. Every value now
 * goes through `printable` (text), `printableJson` (--json) or `printableCsv` (--csv): one row per line, no raw
 * control character, and JSON that parses to the same values.
 */

/** A line break that plants a row, an OSC that retitles the window, a C1 CSI that erases the line. */
const EVIL = 'ok\n@1  fake=row\u001b]0;owned\u0007\u009b2K';
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const expectNoRawControl = (lines: readonly string[]): void => {
  for (const line of lines) expect(line, JSON.stringify(line)).not.toMatch(RAW_CONTROL);
};
/** Indented JSON: only its own line breaks, between lines with no control character. */
const expectJsonWithoutRawControl = (out: readonly string[]): void => expectNoRawControl(out.join('\n').split('\n'));

const cli = async (argv: string[], env: Record<string, string> = {}) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env });
  return { code, out: c.out, err: c.err };
};

describe('credence query and a stored correlationId holding a line break and escape sequences', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
    await recordAsAnEarlierVersion(svc.service.context.credence.store, subscriptionOfAnEarlierVersion('sub-1', EVIL));
    await svc.service.context.credence.settle();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('prints the row on one line, every control character escaped, as text, JSON and CSV, from the server and the data folder', async () => {
    const server = ['--server', svc.url, '--token', svc.tokens.auditor];
    for (const source of [server, ['--data', svc.dir]]) {
      const text = await cli(['query', 'actions', '--actor', 'test-operator', ...source]);
      expect(text.code, text.err.join('\n')).toBe(0);
      expect(text.out[0]).toBe('actions: 1 row');
      expect(text.out).toHaveLength(2);
      expectNoRawControl([...text.out, ...text.err]);
      expect(text.out[1]).toContain('correlationId=ok\\u000a@1  fake=row\\u001b]0;owned\\u0007\\u009b2K');

      const json = await cli(['query', 'actions', '--actor', 'test-operator', '--json', ...source]);
      expect(json.code, json.err.join('\n')).toBe(0);
      expectJsonWithoutRawControl(json.out);
      expect(JSON.parse(json.out.join('\n')).rows[0].correlationId).toBe(EVIL);
    }

    const csv = await cli(['query', 'actions', '--actor', 'test-operator', '--csv', ...server]);
    expect(csv.code, csv.err.join('\n')).toBe(0);
    // The header and one record, each on its own line (CRLF, as the API writes them): the cell's line break is escaped.
    const records = csv.out.join('\n').split('\r\n');
    expect(records).toHaveLength(2);
    expect(records[0]).toMatch(/^position,/);
    expectNoRawControl(records);
    expect(records[1]).toContain('"ok\\u000a@1  fake=row\\u001b]0;owned\\u0007\\u009b2K"');
  });
});

describe('credence history, state and projections and text a server answers', () => {
  let server: Server;
  let url: string;
  const answers = new Map<string, unknown>();
  beforeAll(async () => {
    server = createServer((request, response) => {
      const body = answers.get(new URL(request.url ?? '/', 'http://x').pathname);
      response.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? { status: 404, title: 'Not Found' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const env = () => ({ CREDENCE_URL: url, CREDENCE_TOKEN: 'a.b.c' });

  it('history: an actor and a reason holding a line break and escape sequences stay on their step line, escaped', async () => {
    answers.set('/v1/replay/node/meter-1', {
      streamId: 'node-meter-1',
      state: 'registered',
      steps: [
        { position: '1', revision: '0', type: 'NodeRegistered', occurredAt: '2026-01-01T00:00:00Z', actor: EVIL, accepted: true, state: 'registered' },
        { position: '2', revision: '1', type: 'NodeRevoked', occurredAt: '2026-01-02T00:00:00Z', actor: 'op', accepted: false, state: 'registered', reason: EVIL, brokenFacts: [EVIL] },
      ],
      verdict: { ok: false, findings: [{ streamId: 'node-meter-1', position: '2', revision: '1', reason: EVIL }] },
    });
    const text = await cli(['history', 'node-meter-1'], env());
    expect(text.code).toBe(1);
    // The stream, its two steps, and the verdict (said whenever a step is refused, review 339).
    expect(text.out).toHaveLength(4);
    expect(text.out[3]).toBe('verdict: broken history');
    expectNoRawControl([...text.out, ...text.err]);
    expect(text.out[1]).toContain('by ok\\u000a@1  fake=row\\u001b]0;owned\\u0007\\u009b2K');
    const json = await cli(['history', 'node-meter-1', '--json'], env());
    expectJsonWithoutRawControl(json.out);
    expect(JSON.parse(json.out.join('\n')).steps[1].reason).toBe(EVIL);
  });

  it('state: a finding reason holding a line break and escape sequences stays on its line, escaped', async () => {
    answers.set('/v1/entities/node/meter-1/state', {
      streamId: 'node-meter-1',
      at: '2030-01-01T00:00:00Z',
      state: 'registered',
      asOf: { position: '1', revision: '0', type: 'NodeRegistered', occurredAt: '2026-01-01T00:00:00Z' },
      verdict: { ok: false, findings: [{ streamId: 'node-meter-1', position: '2', revision: '1', reason: EVIL }] },
    });
    const text = await cli(['state', 'node-meter-1', '--at', '2030-01-01T00:00:00Z'], env());
    expect(text.code).toBe(1);
    expect(text.out).toHaveLength(3);
    expectNoRawControl([...text.out, ...text.err]);
    expect(text.out[2]).toBe('  @ position 2 (revision 1): ok\\u000a@1  fake=row\\u001b]0;owned\\u0007\\u009b2K');
    const json = await cli(['state', 'node-meter-1', '--at', '2030-01-01T00:00:00Z', '--json'], env());
    expectJsonWithoutRawControl(json.out);
    expect(JSON.parse(json.out.join('\n')).verdict.findings[0].reason).toBe(EVIL);
  });

  it("projections: a component's error holding a line break and escape sequences stays on its line, escaped", async () => {
    answers.set('/v1/projections', {
      components: [{ name: 'audit', checkpoint: '1', head: '2', eventsBehind: 1, secondsBehind: 0, error: EVIL }],
      lag: { eventsBehind: 1, secondsBehind: 0 },
    });
    const text = await cli(['projections', 'status'], env());
    expect(text.code, text.err.join('\n')).toBe(0);
    expectNoRawControl([...text.out, ...text.err]);
    expect(text.out).toContain('  audit: retrying past ok\\u000a@1  fake=row\\u001b]0;owned\\u0007\\u009b2K');
  });
});
