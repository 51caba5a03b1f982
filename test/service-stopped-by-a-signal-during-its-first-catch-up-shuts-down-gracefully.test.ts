import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { closedPort as freePort } from './support/closed-port.ts';
import { enrolledFleetIn } from './support/read-model-folder.ts';

/*
 * Review 52, finding 6: SIGTERM or SIGINT while the service caught up with the event store (a rebuild reads the whole
 * log before the API listens, and the probe port answers meanwhile) took Node's default action: exit 143, no
 * "shutting down", nothing closed. The signal handlers are now there before the catch-up: the start stops, closes
 * what it opened (the probe port, the stores, the folder's lock) and the process ends with 0.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Two events each: a rebuild of the read models that lasts a few seconds. */
const NODES = 5000;
const EXIT_TIMEOUT_MS = 60_000;

const dir = mkdtempSync(join(tmpdir(), 'credence-signal-catch-up-'));
const data = join(dir, 'data');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The environment without what would move the server elsewhere (a PORT or CREDENCE_* of the shell running the tests). */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'PORT' && !name.startsWith('CREDENCE_')));

const readyz = async (port: number): Promise<{ status: number; body: Record<string, unknown> } | undefined> => {
  try {
    const reply = await fetch(`http://127.0.0.1:${port}/readyz`);
    return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
  } catch {
    return undefined;
  }
};

describe('a service stopped by SIGTERM during its first catch-up', () => {
  it('seeds a fleet whose read models are then removed: the next start rebuilds them before it serves', async () => {
    await enrolledFleetIn(data, NODES);
    const config = serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'warn', durability: 'normal', data, limits: { maxEventLoopDelayMs: 0 } });
    await (await startService(config)).close();
  }, 180_000);

  it.each([
    ['start', 'Credence stopped before it served (SIGTERM).'],
    ['serve', 'Credence stopped before it served'],
  ])('credence %s says it shuts down, closes the probe port and lets go of the folder, and exits with 0', async (command, stopped) => {
    // Given the read models removed, and `credence start` or `serve` rebuilding them, its probe port answering /readyz 503 catch_up
    for (const file of ['readmodels.db', 'readmodels.db-wal', 'readmodels.db-shm']) rmSync(join(data, file), { force: true });
    const probePort = await freePort();
    const child = spawn(process.execPath, ['bin/credence.mjs', command, '--data', data, '--port', '0', '--log-level', 'info'], {
      cwd: ROOT,
      env: { ...cleanEnv(), CREDENCE_PROBE_PORT: String(probePort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      await expect
        .poll(async () => (await readyz(probePort))?.body['check'], { timeout: 60_000, interval: 20 })
        .toBe('catch_up');

      // When SIGTERM reaches it
      child.kill('SIGTERM');

      // Then it shuts down as it would once serving: the line said, exit 0, nothing left open
      const ended = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), EXIT_TIMEOUT_MS))]);
      expect(ended, err).toEqual({ code: 0, signal: null });
      const lines = (out + '\n' + err).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; signal?: string });
      expect(lines, err).toContainEqual(expect.objectContaining({ msg: 'shutting down', signal: 'SIGTERM' }));
      expect(lines.map((l) => l.msg)).not.toContain('listening');
      expect(out + err).toContain(stopped);
      expect(await readyz(probePort)).toBeUndefined();
      expect(existsSync(join(data, 'service.lock'))).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 120_000);
});
