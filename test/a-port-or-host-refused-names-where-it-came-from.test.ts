/**
 * Review 173 (B): with CREDENCE_PORT=A PORT=B and port A taken, `credence serve` said "--port: port A … choose another
 * port with --port or PORT": the port came from CREDENCE_PORT, which wins over PORT, so following the advice changed
 * nothing; a host from CREDENCE_HOST was named `--host` too. A port or host the system refuses now names where it came
 * from, as every other refused setting does (`env CREDENCE_PORT`), and the advice names what changes it.
 * Review 177 (5): a busy probe port was said as "--port: port N … choose another port with --port", the API port's
 * words: it now names --probe-port, CREDENCE_PROBE_PORT or the file's probePort, whichever gave it.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { closedPort } from './support/closed-port.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-listen-source-');

const serve = async (args: string[], env: Record<string, string>) => {
  const c = capture();
  const code = await main(['serve', '--data', join(scratch(), 'data'), '--log-level', 'silent', ...args], { ...c.io, env });
  return { code, err: c.err.join('\n') };
};

describe('a port or host the system refuses', () => {
  let holder: Server;
  let taken: number;
  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
    taken = (holder.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => holder.close(() => resolve())));

  it('names CREDENCE_PORT when the port came from it, and CREDENCE_PORT as what changes it', async () => {
    const r = await serve([], { CREDENCE_PORT: String(taken), PORT: String(await closedPort()) });
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(new RegExp(`^error: env CREDENCE_PORT: port ${taken} on 127\\.0\\.0\\.1 is already in use`, 'm'));
    expect(r.err).toContain('choose another port with CREDENCE_PORT (it wins over PORT) or --port');
  });

  it('names PORT when the port came from it', async () => {
    const r = await serve([], { PORT: String(taken) });
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(new RegExp(`^error: env PORT: port ${taken} on 127\\.0\\.0\\.1 is already in use.*choose another port with PORT or --port`, 'm'));
  });

  it('names --port, and only --port to change it, when the flag gave it over the environment', async () => {
    const r = await serve(['--port', String(taken)], { CREDENCE_PORT: String(await closedPort()) });
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(new RegExp(`^error: --port: port ${taken} on 127\\.0\\.0\\.1 is already in use.*choose another port with --port \\(`, 'm'));
  });

  it('names --probe-port, not --port, when the busy port is the probe port given by the flag', async () => {
    const r = await serve(['--port', '0', '--probe-port', String(taken)], {});
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(new RegExp(`^error: --probe-port: port ${taken} on 127\\.0\\.0\\.1 is already in use.*choose another port with --probe-port \\(`, 'm'));
    expect(r.err).not.toMatch(/--port[: ]/);
  });

  it('names CREDENCE_PROBE_PORT when the busy probe port came from it', async () => {
    const r = await serve(['--port', '0'], { CREDENCE_PROBE_PORT: String(taken) });
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(new RegExp(`^error: env CREDENCE_PROBE_PORT: port ${taken} on 127\\.0\\.0\\.1 is already in use.*choose another port with CREDENCE_PROBE_PORT or --probe-port`, 'm'));
  });

  it("names the --config file's probePort when the busy probe port came from it", async () => {
    const file = join(scratch(), 'credence.json');
    writeFileSync(file, JSON.stringify({ probePort: taken }));
    const r = await serve(['--port', '0', '--config', file], {});
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain(`error: file ${file}: probePort: port ${taken} on 127.0.0.1 is already in use`);
    expect(r.err).toContain("choose another port with the file's probePort, or --probe-port");
  });

  it('names CREDENCE_HOST when the host came from it', async () => {
    const r = await serve(['--port', '0'], { CREDENCE_HOST: '::zz' });
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/^error: env CREDENCE_HOST: ::zz /m);
    expect(r.err).toContain('choose another with CREDENCE_HOST or --host');
  });
});
