/**
 * Review 173 (B): with CREDENCE_PORT=A PORT=B and port A taken, `credence serve` said "--port: port A … choose another
 * port with --port or PORT": the port came from CREDENCE_PORT, which wins over PORT, so following the advice changed
 * nothing; a host from CREDENCE_HOST was named `--host` too. A port or host the system refuses now names where it came
 * from, as every other refused setting does (`env CREDENCE_PORT`), and the advice names what changes it.
 */
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

  it('names CREDENCE_HOST when the host came from it', async () => {
    const r = await serve(['--port', '0'], { CREDENCE_HOST: '::zz' });
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/^error: env CREDENCE_HOST: ::zz /m);
    expect(r.err).toContain('choose another with CREDENCE_HOST or --host');
  });
});
