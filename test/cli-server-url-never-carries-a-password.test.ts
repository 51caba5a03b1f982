import { describe, expect, it } from 'vitest';
import { request, ServerUnreachable } from '../adapters/client/http.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { closedPort } from './support/closed-port.ts';

/*
 * Found in review: `--server http://user:pass@host` was accepted; fetch refuses such a URL, and "cannot reach ..." (exit
 * 3) printed the whole of it, password included. Now a server URL with a user name or password is bad usage (exit 2)
 * naming where it came from and never echoing it, and an unreachable server is named by its origin alone.
 */

const cli = async (argv: string[], env: Record<string, string> = {}) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env: { CREDENCE_TOKEN: 'a.b.c', ...env } });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('a server URL with credentials', () => {
  it.each([
    ['--server', ['--server', 'http://operator:hunter2@127.0.0.1:9'], {}],
    ['--server', ['--server', 'https://:hunter2@127.0.0.1:9/'], {}],
    ['--server', ['--server', 'http://hunter2@127.0.0.1:9'], {}],
    ['CREDENCE_URL', [], { CREDENCE_URL: 'http://operator:hunter2@127.0.0.1:9' }],
  ])('is bad usage (exit 2) naming %s, never echoing the password', async (source, flags, env) => {
    const r = await cli(['replay', ...flags], env);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^error: ${source}: must not carry a user name or password`, 'm'));
    expect(`${r.out}\n${r.err}`).not.toContain('hunter2');
  });

  it('is refused by the client itself, naming the argument and not echoing it', async () => {
    const refused = await request('http://operator:hunter2@127.0.0.1:9', { path: '/v1/replay', timeoutMs: 5_000 }).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as Error).message).toBe('baseUrl: must not carry a user name or password');
  });
});

describe('an unreachable server', () => {
  it('is named by its origin alone (exit 3), not by the URL given', async () => {
    const port = await closedPort();
    const r = await cli(['replay', '--server', `http://127.0.0.1:${port}/private/hunter2`]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(new RegExp(`^error: cannot reach http://127\\.0\\.0\\.1:${port}: `, 'm'));
    expect(r.err).not.toContain('hunter2');
    expect(r.err).not.toContain('private');
  });

  it('keeps only the origin of the URL it was given', () => {
    const error = new ServerUnreachable('http://operator:hunter2@127.0.0.1:9/private', new Error('refused'));
    expect(error.url).toBe('http://127.0.0.1:9');
    expect(error.message).toBe('cannot reach http://127.0.0.1:9: refused');
  });
});
