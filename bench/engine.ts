import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { ExpectedRevision, type EventStore, type EventToAppend } from '../domain/ports/event-store.ts';
import { replayAll } from '../projections/replay/index.ts';
import { fmtMs, now, peakRssMiB, rate, summarise } from './stats.ts';
import { fp, iso, lifecycle, OPERATOR, subscription } from './workloads.ts';

const rawInsertRate = (rows: { stream: string; revision: bigint; id: string; type: string; data: string; metadata: string }[]) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-raw-'));
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL, revision INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, UNIQUE (stream_id, revision))`);
  const insert = db.prepare('INSERT INTO events (stream_id, revision, event_id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)');
  // One transaction per row: the engine commits each command on its own, so the raw side does too.
  const one = db.transaction((r: (typeof rows)[number]) => insert.run(r.stream, r.revision, r.id, r.type, r.data, r.metadata));
  const start = now();
  for (const r of rows) one(r);
  const ms = now() - start;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return { ms, perSecond: (rows.length / ms) * 1000 };
};

const lifecycleBench = async (report: (line: string) => void, nodes: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-bench-'));
  // `normal`, like the raw inserts it is compared with; bench/commands.ts measures the durable engine.
  const store = openSqliteStoreInDir(dir, { durability: 'normal' });
  const clock = new FakeClock(iso(0));
  const engine = createEngine({ store, clock });
  await engine.execute(subscription());
  // Built before the clock starts, as the raw rows are: a command's key is a real Ed25519 point (87fd62f), and making
  // it is the caller's work, not the engine's.
  const commands = Array.from({ length: nodes }, (_, i) => lifecycle('meter', i)).flat();
  const latencies: number[] = [];
  const start = now();
  for (const c of commands) {
    const t = now();
    await engine.execute(c);
    latencies.push(now() - t);
  }
  const ms = now() - start;
  const { p50, p99 } = summarise(latencies);
  const engineRate = (latencies.length / ms) * 1000;
  report(`engine lifecycle mix, ${nodes.toLocaleString('en-US')} nodes, file store (WAL, durability normal): ${latencies.length.toLocaleString('en-US')} commands in ${(ms / 1000).toFixed(1)}s = ${rate(latencies.length, ms)}, p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)}`);

  const rows: Parameters<typeof rawInsertRate>[0] = [];
  for await (const e of store.readAll()) {
    rows.push({ stream: e.streamId, revision: e.revision, id: e.id, type: e.type, data: JSON.stringify(e.data), metadata: JSON.stringify(e.metadata) });
  }
  const raw = rawInsertRate(rows);
  report(`raw better-sqlite3 inserts of the same ${rows.length.toLocaleString('en-US')} rows (one per transaction): ${rate(rows.length, raw.ms)}`);
  report(`ratio engine commands/s / raw rows/s: ${(engineRate / raw.perSecond).toFixed(3)} (engine reads, replays, decides and appends per command)`);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
};

/** Writes valid lifecycle histories straight into the store (multi-event appends) to build a large log fast. */
export const seed = async (store: EventStore, minEvents: number): Promise<number> => {
  let written = 0;
  // One command id per event, as the engine records them (a command id used again is a replay finding, review 420).
  const meta = (stream: string, i: number, k: number, type: string, days: number) => ({
    schemaVersion: type === 'NodeRegistered' ? 2 : 1, actor: OPERATOR, commandId: eventIdFor(`seed-command-${stream}`, k), commandType: 'seed',
    correlationId: `seed-${i}`, causationId: `seed-${i}`, occurredAt: iso(days),
  });
  const append = async (stream: string, i: number, events: [string, Record<string, unknown>, number][]) => {
    const batch: EventToAppend[] = events.map(([type, data, days], k) => ({ id: eventIdFor(`${stream}`, k), type, data: data as EventToAppend['data'], metadata: meta(stream, i, k, type, days) }));
    await store.appendToStream(stream, batch, { expectedRevision: ExpectedRevision.noStream });
    written += batch.length;
  };
  await append('subscription-seed-sub', -1, [['SubscriptionCreated', { subscriptionId: 'seed-sub', subscriber: 'bench', notBefore: iso(0), notAfter: iso(400) }, 0]]);
  // Appends issued 500 nodes (1,500 appends) at a time: the embedded store group-commits them (one sync per group on a durable store).
  let pending: Promise<void>[] = [];
  let submitted = written;
  for (let i = 0; submitted < minEvents; i++, submitted += 7) {
    const nodeId = `n-${i}`;
    const credentialId = `${nodeId}-c`;
    const associationId = `${nodeId}-a`;
    if (pending.length >= 1500) {
      await Promise.all(pending);
      pending = [];
    }
    pending.push(append(`node-${nodeId}`, i, [
      ['NodeRegistered', { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: [] } }, 0],
      ['NodeEnrolled', { nodeId, subscriptionId: 'seed-sub', cseId: `/${nodeId}` }, 1],
    ]));
    pending.push(append(`credential-${credentialId}`, i, [
      ['CredentialIssued', { credentialId, kind: 'p256', publicKey: `${'B'.repeat(86)}A`, purpose: 'service', owner: { kind: 'node', id: nodeId }, fingerprint: fp(i), notBefore: iso(0), notAfter: iso(365) }, 1],
      ['CredentialProvisioned', { credentialId, method: 'pre-provisioning' }, 1],
    ]));
    pending.push(append(`association-${associationId}`, i, [
      ['AssociationConfigured', { associationId, nodeId, credentialId, registree: { kind: 'cse', id: `/${nodeId}` }, registrarCseId: '/in-cse' }, 2],
      ['AssociationEstablished', { associationId, expiresAt: iso(32) }, 2],
      ['AssociationRevoked', { associationId, reason: 'superseded' }, 3],
    ]));
  }
  await Promise.all(pending);
  return written;
};

const replayBench = async (report: (line: string) => void, events: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-replay-'));
  const store = openSqliteStoreInDir(dir);
  const written = await seed(store, events);
  const start = now();
  const result = await replayAll(store);
  const ms = now() - start;
  if (result.findings.length > 0) throw new Error(`replay bench data is broken: ${result.findings[0]!.reason}`);
  report(`replay (every guard, cross-entity facts) of ${written.toLocaleString('en-US')} stored events: ${(ms / 1000).toFixed(2)}s = ${rate(result.events, ms)}`);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
};

export async function benchEngine(report: (line: string) => void): Promise<void> {
  await lifecycleBench(report, Number(process.env['BENCH_NODES'] ?? 10_000));
  await replayBench(report, Number(process.env['BENCH_REPLAY_EVENTS'] ?? 200_000));
  report(`peak RSS so far: ${peakRssMiB()}`);
}
