import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService, type RunningService } from '../adapters/http/start.ts';
import { closedPort as freePort } from './support/closed-port.ts';
import { enrolledFleetIn } from './support/read-model-folder.ts';
import { moveTransparencyLogAside } from './support/restored-folder.ts';

/*
 * Review 51, after 30e1d6d: the probe port listened before the first catch-up and the read models yielded to the
 * event loop per page, but the transparency log's catch-up did not: a folder whose log was moved aside (or a first
 * start on an existing store) hashed every stored event into the log with the process deaf to its probes.
 */

/** Two events each, a subscription's first: a log of a few thousand events. */
const NODES = 2500;

/**
 * From another process (this one's event loop is the service's): asks /healthz only once the log has leaves but not
 * all of them (read from transparency.db), and keeps the answer if the log still lacks some once it came back. Such
 * an answer was given while the log was catching up. Prints that answer, or what the log held when it missed.
 */
const PROBE = `
const [port, dir, total] = process.argv.slice(1);
const Database = require('better-sqlite3');
const leaves = () => {
  try {
    const db = new Database(dir + '/transparency.db', { readonly: true, fileMustExist: true });
    try { return db.prepare('SELECT count(*) AS n FROM leaves').get().n; } finally { db.close(); }
  } catch { return 0; }
};
const poll = async () => {
  for (const deadline = Date.now() + 60000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 1))) {
    const before = leaves();
    if (before >= Number(total)) return process.stdout.write(JSON.stringify({ missed: before }));
    if (before === 0) continue;
    try {
      const r = await fetch('http://127.0.0.1:' + port + '/healthz');
      const after = leaves();
      if (after < Number(total)) return process.stdout.write(JSON.stringify({ status: r.status, body: await r.json(), before, after }));
    } catch {}
  }
};
poll();
`;
const probeWhileLogging = (port: number, dir: string, total: bigint): Promise<Record<string, unknown>> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', PROBE, String(port), dir, String(total)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', () => (out === '' ? reject(new Error('the probe never saw the log catching up')) : resolve(JSON.parse(out))));
  });

const start = (dir: string, probePort?: number): Promise<RunningService> =>
  startService(
    serviceConfig({
      host: '127.0.0.1', port: 0, logLevel: 'warn', tickMs: 200, durability: 'normal', data: dir,
      limits: { maxEventLoopDelayMs: 0 }, ...(probePort !== undefined ? { probePort } : {}),
    }),
  );

const headOf = (dir: string): bigint => {
  const db = new Database(join(dir, 'events.db'), { readonly: true });
  try {
    return BigInt((db.prepare('SELECT max(position) AS head FROM events').get() as { head: number | bigint }).head);
  } finally {
    db.close();
  }
};

describe('a service whose transparency log catches up from nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-serve-fresh-log-'));
  const aside = mkdtempSync(join(tmpdir(), 'credence-serve-fresh-log-aside-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(aside, { recursive: true, force: true });
  });

  it('answers /healthz on the probe port while the log is hashing the stored events', async () => {
    // Given a fleet of a few thousand events whose read models are built, and whose transparency log was moved aside
    await enrolledFleetIn(dir, NODES);
    await (await start(dir)).close();
    moveTransparencyLogAside(dir, aside);
    const head = headOf(dir);
    const probePort = await freePort();
    const answered = probeWhileLogging(probePort, dir, head);

    // When the service starts: only the log has anything to catch up
    const service = await start(dir, probePort);
    try {
      // Then /healthz answered between the log's first leaves and its last
      expect(await answered).toMatchObject({ status: 200, body: { status: 'ok' } });
    } finally {
      await service.close();
    }
  }, 120_000);
});
