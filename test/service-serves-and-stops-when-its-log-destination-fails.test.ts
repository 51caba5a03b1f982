import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closedPort as freePort } from './support/closed-port.ts';

/*
 * Review 81, finding 1: `credence serve > /dev/full` (or a log file past `ulimit -f`) printed "Credence listening",
 * then answered nothing and ignored SIGTERM: pino's default destination (sonic-boom) raised the failed write, and at
 * exit its flushSync retried it every 100 ms for ever. A log destination that fails drops lines (said once on
 * stderr); the service answers and stops as it would with a working one.
 */

const dir = mkdtempSync(join(tmpdir(), 'credence-serve-log-fails-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CLI = join(import.meta.dirname, '..', 'bin', 'credence.mjs');
const ENV = { ...process.env, PORT: '', CREDENCE_URL: '', CREDENCE_PROBE_PORT: '', CREDENCE_LOG_LEVEL: '' };
const DROPPED_NOTICE = /log lines are dropped/g;

interface Served {
  readonly stderr: () => string;
  readonly stdout: () => string;
}

/** Starts `child`, waits for /healthz on `port` (and the live probe on `probePort`), then SIGTERM: it must exit 0. */
const servesAndStops = async (child: ChildProcess, port: number, probePort: number, whileServing?: () => Promise<void>): Promise<Served> => {
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const status = async (url: string): Promise<number | undefined> => (await fetch(url, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined))?.status;
  try {
    await expect.poll(() => status(`http://127.0.0.1:${port}/healthz`), { timeout: 60_000, interval: 50 }).toBe(200);
    // Still answering once many lines have failed: each request logs one (not /healthz: a probe answered logs none,
    // review 381).
    for (let i = 0; i < 20; i += 1) expect(await status(`http://127.0.0.1:${port}/openapi.json`)).toBe(200);
    expect(await status(`http://127.0.0.1:${probePort}/healthz`)).toBe(200);
    await whileServing?.();
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000).unref())]);
    expect(code).toBe(0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  return { stderr: () => stderr, stdout: () => stdout };
};

const serveArgs = (name: string, port: number, probePort: number): string[] => [
  CLI,
  'serve',
  '--data',
  join(dir, name),
  '--port',
  String(port),
  '--probe-port',
  String(probePort),
];

describe('credence serve whose log destination fails', () => {
  it.skipIf(!existsSync('/dev/full'))('with stdout on a full device: answers, says once that lines are dropped, stops on SIGTERM', async () => {
    const [port, probePort] = [await freePort(), await freePort()];
    const full = openSync('/dev/full', 'w');
    try {
      const child = spawn(process.execPath, serveArgs('full', port, probePort), { stdio: ['ignore', full, 'pipe'], env: ENV });
      let scraped = '';
      const served = await servesAndStops(child, port, probePort, async () => {
        scraped = await (await fetch(`http://127.0.0.1:${probePort}/metrics`)).text();
      });
      expect(served.stderr()).toContain('Credence stopped');
      expect(served.stderr().match(DROPPED_NOTICE)).toHaveLength(1);
      // At least the 20 requests' lines were dropped, and counted.
      expect(Number(/^credence_log_lines_dropped_total (\d+)$/m.exec(scraped)?.[1])).toBeGreaterThanOrEqual(20);
    } finally {
      closeSync(full);
    }
  }, 120_000);

  it('with stdout on a file past the size limit (ulimit -f): answers, says so once, stops on SIGTERM', async () => {
    const [port, probePort] = [await freePort(), await freePort()];
    // Already at the limit (sparse, so no disk is used): every append fails with EFBIG, while the data folder's own
    // files, far smaller, can still be written.
    const limitKiB = 65_536;
    const log = join(dir, 'capped.log');
    writeFileSync(log, '');
    truncateSync(log, limitKiB * 1024);
    const child = spawn('bash', ['-c', `ulimit -f ${limitKiB} && exec "$0" "$@" >> "${log}"`, process.execPath, ...serveArgs('capped', port, probePort)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: ENV,
    });
    const served = await servesAndStops(child, port, probePort);
    expect(served.stderr()).toContain('Credence stopped');
    expect(served.stderr().match(DROPPED_NOTICE)).toHaveLength(1);
    expect(statSync(log).size).toBe(limitKiB * 1024);
  }, 120_000);

  it('with stdout working: every line arrives, in order, the last one (the shutdown) included', async () => {
    const [port, probePort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, serveArgs('working', port, probePort), { stdio: ['ignore', 'pipe', 'pipe'], env: ENV });
    const ids = Array.from({ length: 30 }, (_, i) => `order-${i}`);
    const served = await servesAndStops(child, port, probePort, async () => {
      // Not /healthz: a probe answered writes no line (review 381).
      for (const id of ids) await (await fetch(`http://127.0.0.1:${port}/openapi.json`, { headers: { 'x-request-id': id } })).arrayBuffer();
    });
    const lines = served.stdout().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { msg: string; reqId?: string });
    const ours = lines.filter((l) => l.reqId?.startsWith('order-')).map((l) => `${l.reqId} ${l.msg}`);
    // One line a request, as it completes (review 381: `incoming request` too, before).
    expect(ours).toEqual(ids.map((id) => `${id} request completed`));
    expect(lines.at(-1)?.msg).toBe('shutting down');
    expect(served.stderr()).not.toMatch(DROPPED_NOTICE);
  }, 120_000);
});
