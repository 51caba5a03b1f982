import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { request, ServerUnreachable } from '../adapters/client/http.ts';
import { fetchRefusedPortWarning } from '../adapters/http/config.ts';
import { closedPort } from './support/closed-port.ts';
import { runCli } from './support/cli.ts';
import { startServe } from './support/serve-process.ts';

/*
 * Review 271: `credence serve --port 6000` started, but every CLI command to http://127.0.0.1:6000 exited 3 with
 * "cannot reach …: bad port", and a command added "the outcome of command … is unknown", though nothing was sent:
 * Node's fetch refuses the Fetch standard's bad ports (6000, 1, 6665-6669, …) before it connects. That is bad usage of
 * --server (exit 2), said with the port and the rule, and a command so refused was never sent. No server is started on
 * those ports for the CLI's part: fetch refuses them before it connects.
 */
const RULE = "a port browsers and Node's fetch refuse";

describe('a server URL on a port fetch refuses', () => {
  it('is bad usage (exit 2) of a command, naming the port and the rule, and the command was not sent, never of unknown outcome', async () => {
    const run = await runCli(['node', 'enrol', 'meter-1', '--subscription', 'sub-1', '--cse-id', '/meter-1-cse', '--server', 'http://127.0.0.1:6000', '--token', 'a.b.c']);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/^error: .*port 6000 .*a port browsers and Node's fetch refuse.*serve on another/m);
    expect(run.err).not.toMatch(/is unknown/);
    expect(run.err).toMatch(/^note: command [0-9a-f-]{36} was not sent \(/m);
    expect(run.err).not.toMatch(/cannot reach/);
  });

  it('is bad usage (exit 2) of a read, from --server or CREDENCE_URL', async () => {
    const flag = await runCli(['replay', '--server', 'http://127.0.0.1:1', '--token', 'a.b.c']);
    expect(flag.code).toBe(2);
    expect(flag.err).toContain('port 1 ');
    expect(flag.err).toContain(RULE);
    const env = await runCli(['replay'], { CREDENCE_URL: 'http://127.0.0.1:6666', CREDENCE_TOKEN: 'a.b.c' });
    expect(env.code).toBe(2);
    expect(env.err).toContain('port 6666 ');
  });

  it('is a ServerUnreachable of the client that says nothing was sent, and names the port', async () => {
    const refused = await request('http://127.0.0.1:6000', { path: '/v1/replay', timeoutMs: 5_000 }).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(ServerUnreachable);
    expect((refused as ServerUnreachable).badPort).toBe(6000);
    expect((refused as ServerUnreachable).unsent).toBeDefined();
    // Kept when a caller says it in its own words (bin/commands/device/outcome-unknown.ts).
    const reworded = new ServerUnreachable('http://127.0.0.1:6000', refused, 'device init: not answered');
    expect(reworded.badPort).toBe(6000);
    expect(reworded.unsent).toBeDefined();
  });

  it('leaves a port nothing listens on what it was: unreachable, exit 3', async () => {
    const run = await runCli(['replay', '--server', `http://127.0.0.1:${await closedPort()}`, '--token', 'a.b.c']);
    expect(run.code).toBe(3);
    expect(run.err).toMatch(/^error: cannot reach /m);
  });
});

describe('credence serve on a port fetch refuses', () => {
  it('is warned of, naming the port, and no other port is', () => {
    expect(fetchRefusedPortWarning(6000)).toMatch(/port 6000 .*a port browsers and Node's fetch refuse/);
    expect(fetchRefusedPortWarning(6000)).toMatch(/the console.*the CLI/);
    expect(fetchRefusedPortWarning(10080)).toBeDefined();
    for (const port of [0, 80, 443, 3000, 8080, 6001, 65535]) expect(fetchRefusedPortWarning(port), String(port)).toBeUndefined();
  });

  const dir = mkdtempSync(join(tmpdir(), 'credence-bad-port-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The first of fetch's bad ports above 1023 that 127.0.0.1 can bind now (taken, then given back). */
  const freeBadPort = async (): Promise<number | undefined> => {
    for (const port of [6000, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080, 6566, 5060, 5061]) {
      const holder = createServer();
      const bound = await new Promise<boolean>((resolve) => {
        holder.once('error', () => resolve(false));
        holder.listen(port, '127.0.0.1', () => resolve(true));
      });
      if (bound) {
        await new Promise<void>((resolve) => holder.close(() => resolve()));
        return port;
      }
    }
    return undefined;
  };

  it('says so at start, after the listening line', async () => {
    const port = await freeBadPort();
    expect(port, 'no bad port free on 127.0.0.1').toBeDefined();
    const serve = startServe(['--data', join(dir, 'data'), '--port', String(port), '--log-level', 'warn'], { PORT: '' }, /^warning: .*fetch refuse.*\n/m);
    try {
      await serve.ready;
      expect(serve.err).toMatch(new RegExp(`^Credence listening on http://127\\.0\\.0\\.1:${port} [^\\n]*\\n(?:.*\\n)*warning: port ${port} `, 'm'));
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect(await serve.exitCode()).toBe(0);
  }, 60_000);
});
