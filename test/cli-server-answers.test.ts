import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { formatVerifierKey } from '../domain/transparency/index.ts';
import { capture } from './support/cli.ts';
import { fixedSigner, keyOf } from './transparency-fixtures.ts';

/**
 * What the CLI does with answers it cannot use, from a stand-in server that answers each path as a test says: a
 * body of another shape or JSON that does not parse is exit 1 naming what was wrong, a server that does not answer
 * in time exit 3, a malformed evidence bundle or checkpoint handed out by a server exit 1 (not the caller's input).
 */

type Answer = { status?: number; type?: string; body: string } | 'hang';

const listen = async (server: Server | ReturnType<typeof createTcpServer>): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
};

describe('credence against a server whose answers it cannot use', () => {
  const answers = new Map<string, Answer>();
  const hanging: ServerResponse[] = [];
  let server: Server;
  let url: string;
  let work: string;
  const key = formatVerifierKey(keyOf(fixedSigner()));
  const cli = async (argv: string[], env: Record<string, string> = {}) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env: { CREDENCE_URL: url, CREDENCE_TOKEN: 'a.b.c', ...env } });
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };
  const answer = (path: string, value: Answer): void => void answers.set(path, value);
  const json = (body: unknown): Answer => ({ type: 'application/json', body: JSON.stringify(body) });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'credence-cli-answers-'));
    server = createServer((request, response) => {
      const found = answers.get(new URL(request.url ?? '/', 'http://x').pathname);
      if (found === 'hang') {
        hanging.push(response);
        return;
      }
      if (found === undefined) {
        response.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404 }));
        return;
      }
      response.writeHead(found.status ?? 200, { 'content-type': found.type ?? 'application/json' }).end(found.body);
    });
    url = `http://127.0.0.1:${await listen(server)}`;
  });
  afterAll(async () => {
    for (const r of hanging) r.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(work, { recursive: true, force: true });
  });

  it('exit 1 for a body not of the documented shape, naming the route and the field', async () => {
    answer('/v1/replay', json({ ok: true, events: 3, kinds: {}, foreignEvents: 0, findings: [{ streamId: 'node-a', position: 'soon', revision: '0', reason: 'x' }], findingsTotal: 1, brokenStreams: [], brokenStreamsTotal: 0 }));
    const replay = await cli(['replay']);
    expect(replay.code).toBe(1);
    expect(replay.err).toMatch(/^error: unexpected answer from server to GET \/v1\/replay: findings\.0\.position: /);

    answer('/v1/replay/node/meter-1', json({ streamId: 'node-meter-1', state: 'revoked', verdict: { ok: true } }));
    const history = await cli(['history', 'node-meter-1']);
    expect(history.code).toBe(1);
    expect(history.err).toMatch(/unexpected answer from server to GET \/v1\/replay\/\{kind\}\/\{id\}: steps: /);

    answer('/v1/entities/node/meter-1/state', json([]));
    const state = await cli(['state', 'node-meter-1', '--at', '2030-01-01T00:00:00Z']);
    expect(state.code).toBe(1);
    expect(state.err).toMatch(/unexpected answer from server to GET \/v1\/entities\/\{kind\}\/\{id\}\/state: body: /);

    answer('/v1/compliance/revocations', json({ query: 'revocations', params: {}, rows: [{ nodeId: 'meter-1' }] }));
    const query = await cli(['query', 'revocations']);
    expect(query.code).toBe(1);
    expect(query.err).toMatch(/unexpected answer from server to GET \/v1\/compliance\/revocations: rows\.0\.position: /);

    answer('/v1/projections', json({ components: 'all fine' }));
    const projections = await cli(['projections', '--json']);
    expect(projections.code).toBe(1);
    expect(projections.err).toMatch(/unexpected answer from server to GET \/v1\/projections: components: /);
  });

  it('exit 1 for JSON that does not parse, with what was wrong (never a raw SyntaxError)', async () => {
    answer('/v1/replay', { type: 'application/json', body: '{"ok": tru' });
    const r = await cli(['replay']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: unexpected answer from server to GET \/v1\/replay: the body is not valid JSON \(/);
    expect(r.err).not.toMatch(/SyntaxError/);
  });

  it('exit 3 when the server takes the connection but does not answer within --timeout or CREDENCE_TIMEOUT', async () => {
    answer('/v1/replay', 'hang');
    // The message names the timeout the client used: the 0.3 s given, not the 30 s default.
    const noAnswer = new RegExp(`^error: no answer from ${url.replace(/\./g, '\\.')} within 0\\.3 s$`, 'm');
    const flag = await cli(['replay', '--timeout', '0.3']);
    expect(flag.code).toBe(3);
    expect(flag.err).toMatch(noAnswer);
    expect(flag.err).toContain('--timeout SECONDS');
    const env = await cli(['replay'], { CREDENCE_TIMEOUT: '0.3' });
    expect(env.code).toBe(3);
    expect(env.err).toMatch(noAnswer);

    for (const [argv, envOverride, message] of [
      [['replay', '--timeout', 'soon'], {}, /^error: --timeout: must be a number of seconds/m],
      [['replay', '--timeout', '0'], {}, /^error: --timeout: /m],
      [['replay'], { CREDENCE_TIMEOUT: '-1' }, /^error: CREDENCE_TIMEOUT: /m],
    ] as const) {
      const r = await cli([...argv], envOverride);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(message);
    }
  });

  it('verify --server: a malformed bundle, checkpoint or proof from the server fails (exit 1), not bad usage', async () => {
    answer('/v1/transparency/evidence/node/meter-1', json({ format: 'something else' }));
    const bundle = await cli(['verify', 'node-meter-1', '--key', key, '--server', url]);
    expect(bundle.code, bundle.err).toBe(1);
    expect(bundle.err).toMatch(/^FAILED \(malformed\)/m);

    answer('/v1/transparency/checkpoint', { type: 'text/plain', body: 'not a signed note' });
    const checkpoint = await cli(['verify', '--key', key, '--server', url]);
    expect(checkpoint.code, checkpoint.err).toBe(1);

    answer('/v1/transparency/checkpoint', { type: 'text/plain', body: '' });
    expect((await cli(['verify', '--key', key, '--server', url])).code).toBe(1);
  });

  it('verify --server without --key is bad usage naming --key: the key inside a server’s bundle vouches for nothing', async () => {
    answer('/v1/transparency/evidence/node/meter-1', json({ format: 'something else' }));
    for (const argv of [['verify', 'node-meter-1', '--server', url], ['verify', '--server', url]]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(/^error: --key: required with --server/m);
    }
  });

  it('--token-file: the token read from a file (trimmed); with --token too, missing or empty, exit 2', async () => {
    const file = join(work, 'token');
    writeFileSync(file, '  a.b.c\n');
    answer('/v1/projections', json({ components: [], lag: { eventsBehind: 0, secondsBehind: 0 } }));
    const ok = await cli(['projections', '--token-file', file], { CREDENCE_TOKEN: '' });
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/^live: 0 events, 0 seconds behind at most$/m);

    const empty = join(work, 'empty');
    writeFileSync(empty, '\n');
    const spaced = join(work, 'two-tokens');
    writeFileSync(spaced, 'a.b.c d.e.f\n');
    for (const [argv, message] of [
      [['projections', '--token-file', file, '--token', 'a.b.c'], /^error: --token-file: give --token or --token-file, not both$/m],
      [['projections', '--token-file', join(work, 'missing')], /^error: --token-file: cannot read .*missing: ENOENT$/m],
      [['projections', '--token-file', empty], /^error: --token-file: .*empty holds no token$/m],
      [['projections', '--token-file', spaced], /^error: --token-file: must be one token/m],
    ] as const) {
      const r = await cli([...argv]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(message);
    }
  });
});

describe('credence serve on an address it cannot use', () => {
  it('exit 2 naming the port when it is already in use, not a bare refusal', async () => {
    const holder = createTcpServer();
    const port = await listen(holder);
    const parent = mkdtempSync(join(tmpdir(), 'credence-cli-port-'));
    const data = join(parent, 'data');
    try {
      const c = capture();
      const code = await main(['serve', '--data', data, '--port', String(port), '--log-level', 'silent'], { ...c.io, env: {} });
      expect(code, c.err.join('\n')).toBe(2);
      expect(c.err.join('\n')).toMatch(new RegExp(`^error: --port: port ${port} on 127\\.0\\.0\\.1 is already in use`, 'm'));
      // Found out before the data folder is touched (found in review: its KEK, keys and stores were made first).
      expect(existsSync(data)).toBe(false);
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('exit 2 naming --host when the host does not resolve, and the data folder is not made', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'credence-cli-host-'));
    const data = join(parent, 'data');
    try {
      // A host with a space is not a host name at all: refused with the settings, before any lookup.
      for (const [host, refusal] of [
        ['a b', /^error: flag --host: must be a host name or address, without spaces/m],
        ['no-such-host.invalid', /^error: --host: no-such-host\.invalid does not resolve/m],
      ] as const) {
        const c = capture();
        const code = await main(['demo', '--data', data, '--host', host, '--port', '0'], { ...c.io, env: {} });
        expect(code, c.err.join('\n')).toBe(2);
        expect(c.err.join('\n')).toMatch(refusal);
        expect(existsSync(data)).toBe(false);
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
