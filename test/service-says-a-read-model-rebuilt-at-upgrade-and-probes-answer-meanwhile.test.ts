import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService, type RunningService } from '../adapters/http/start.ts';
import { COMPLIANCE_EVENT_TYPES } from '../projections/compliance/index.ts';
import { enrolledFleetIn, eventsOf } from './support/read-model-folder.ts';
import { closedPort as freePort } from './support/closed-port.ts';

/*
 * Review 51, findings 4 and 5. An upgrade that bumps a read model's schema version (compliance 6 -> 7, ...) drops its
 * tables and rebuilds it from the log: that was silent, a downgrade too. And the rebuild ran before anything
 * listened, the probe port included: an orchestrator's liveness probe found nothing for the whole rebuild.
 */

/** Two events each, a subscription's first: a rebuild of a few thousand events. */
const NODES = 5000;

/**
 * Polls the probe port from another process (this one's event loop is the service's, busy with the rebuild): at the
 * first answer, /healthz and /readyz asked together, what they said and when (epoch ms).
 */
const PROBE = `
const port = process.argv[1];
const get = (path) => fetch('http://127.0.0.1:' + port + path).then(async (r) => ({ status: r.status, body: await r.json() }));
const poll = async () => {
  for (const deadline = Date.now() + 60000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 2))) {
    try {
      const [healthz, readyz] = await Promise.all([get('/healthz'), get('/readyz')]);
      process.stdout.write(JSON.stringify({ healthz, readyz, at: Date.now() }));
      return;
    } catch {}
  }
};
poll();
`;
const probeFromAnotherProcess = (port: number): Promise<{ healthz: { status: number; body: unknown }; readyz: { status: number; body: Record<string, unknown> }; at: number }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', PROBE, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', () => (out === '' ? reject(new Error('the probe port never answered')) : resolve(JSON.parse(out))));
  });

/** A service on `dir` whose JSON log lines are kept. */
const start = (dir: string, lines: string[], probePort?: number): Promise<RunningService> => {
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      done();
    },
  });
  const config = serviceConfig({
    host: '127.0.0.1', port: 0, logLevel: 'info', tickMs: 200, durability: 'normal', data: dir,
    limits: { maxEventLoopDelayMs: 0 }, ...(probePort !== undefined ? { probePort } : {}),
  });
  return startService(config, { logStream });
};

/** What an upgrade (or a downgrade) leaves: the read models written under other schema versions than the code's. */
const setStoredVersions = (dir: string, versions: Readonly<Record<string, number>>): void => {
  const db = new Database(join(dir, 'readmodels.db'));
  try {
    for (const [name, version] of Object.entries(versions)) db.prepare('UPDATE projection_schemas SET version = ? WHERE name = ?').run(version, name);
  } finally {
    db.close();
  }
};

const storedVersion = (dir: string, name: string): number => {
  const db = new Database(join(dir, 'readmodels.db'), { readonly: true });
  try {
    return (db.prepare('SELECT version FROM projection_schemas WHERE name = ?').get(name) as { version: number }).version;
  } finally {
    db.close();
  }
};

/** The events of `types` in the data folder's store: what a rebuild of their read model reads. */
const warnings = (lines: readonly string[]): { msg: string; projection?: string }[] =>
  lines.map((l) => JSON.parse(l) as { level: number; msg: string; projection?: string }).filter((l) => l.level === 40);

describe('a service started on read models of another schema version', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-serve-upgrade-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('seeds a fleet of a few thousand events and builds its read models once', async () => {
    await enrolledFleetIn(dir, NODES);
    const service = await start(dir, []);
    await service.close();
  }, 120_000);

  it('says which read model it rebuilds, from which version to which, and over how many events', async () => {
    const compliance = storedVersion(dir, 'compliance');
    const cascade = storedVersion(dir, 'cascade');
    // Given compliance written by the version before, and the cascade by a newer Credence
    setStoredVersions(dir, { compliance: compliance - 1, cascade: cascade + 1 });
    const lines: string[] = [];

    // When the service starts
    const service = await start(dir, lines);
    await service.close();

    // Then each is said once, at warn, and nothing else is
    const said = warnings(lines);
    expect(said.filter((w) => w.projection === 'compliance').map((w) => w.msg)).toEqual([
      `compliance: written by version ${compliance - 1}, this is version ${compliance}: rebuilding from the events (${eventsOf(dir, COMPLIANCE_EVENT_TYPES)} events)`,
    ]);
    expect(said.filter((w) => w.projection === 'cascade').map((w) => w.msg)).toEqual([
      expect.stringMatching(new RegExp(`^cascade: written by a newer Credence \\(version ${cascade + 1}\\): rebuilt under version ${cascade} .*; upgrading again rebuilds it again$`)),
    ]);
    expect(said.map((w) => w.projection).filter((p) => p !== undefined && p !== 'compliance' && p !== 'cascade')).toEqual([]);
    expect(storedVersion(dir, 'cascade')).toBe(cascade);

    // And a second start, on read models of its own version, says nothing
    const again: string[] = [];
    await (await start(dir, again)).close();
    expect(warnings(again).filter((w) => w.projection !== undefined)).toEqual([]);
  }, 120_000);

  it('answers /healthz on the probe port while the rebuild runs, and /readyz 503 catch_up until it is done', async () => {
    // Given every read model written by an earlier version: the whole log is read again before the API listens
    setStoredVersions(dir, { compliance: 1, cascade: 1, audit: 1 });
    const probePort = await freePort();
    const answered = probeFromAnotherProcess(probePort);
    await new Promise((resolve) => setTimeout(resolve, 200));

    // When the service starts
    const service = await start(dir, [], probePort);
    const startedAt = Date.now();
    try {
      // Then the probe port answered before the start ended: alive, not ready
      const first = await answered;
      expect(first.at).toBeLessThan(startedAt);
      expect(first.healthz).toEqual({ status: 200, body: { status: 'ok' } });
      expect(first.readyz.status).toBe(503);
      expect(first.readyz.body).toMatchObject({ type: expect.stringContaining('not_ready'), check: 'catch_up' });
      // And ready once the API listens
      const ready = await fetch(`${service.probeUrl!}/readyz`);
      expect(ready.status).toBe(200);
    } finally {
      await service.close();
    }
  }, 120_000);
});
