/**
 * Review 136: a second `npm start` on the same folder and default port while the first ran was told the port was in
 * use (stop what holds it, or choose another port, exit 2); only on another port did it learn the folder was the
 * first start's. `start`, `serve` and `demo` name the folder's holder first, whatever port they ask for, and a port
 * held by something else is still said as the port's.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-start-held-');

describe('a start on a data folder a running service holds', () => {
  let running: TestService;
  let port: string;
  beforeAll(async () => {
    running = await startTestService({ config: { logLevel: 'silent' } });
    port = new URL(running.url).port;
  });
  afterAll(async () => running.close());

  it.each([['start'], ['serve'], ['demo']])('credence %s on its port names the holder (exit 1), not the port', async (command) => {
    const r = await runCli([command, '--data', running.dir, '--port', port, '--log-level', 'silent']);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain(`${running.dir} is in use by process ${process.pid} on `);
    expect(r.err).toContain('stop that service first');
    expect(r.err).not.toMatch(/already in use/);
  });

  it('a port held by something else on a free folder is still said as the port (exit 2)', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
    try {
      const taken = (holder.address() as { port: number }).port;
      const r = await runCli(['serve', '--data', join(scratch(), 'data'), '--port', String(taken), '--log-level', 'silent']);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(new RegExp(`^error: --port: port ${taken} on 127\\.0\\.0\\.1 is already in use`, 'm'));
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});
