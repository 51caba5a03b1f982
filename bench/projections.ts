import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMAND_FOR_EVENT } from '../domain/commands/index.ts';
import type { EventType } from '../domain/events/index.ts';
import type { Actor } from '../domain/metadata.ts';
import { currentVersionOf } from '../domain/upcasters.ts';
import { DAY, FakeClock, SECOND } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { ExpectedRevision, type EventStore, type EventToAppend } from '../domain/ports/event-store.ts';
import { auditTrail } from '../projections/audit/index.ts';
import { cascadeProcessManager } from '../projections/cascade/index.ts';
import { complianceProjection, danglingAssociations } from '../projections/compliance/index.ts';
import { expiryScheduler } from '../projections/expiry/index.ts';
import { PseudonymDeriver, pseudonymRotation, secureEnvironmentPseudonymKey, type PseudonymRotation } from '../projections/pseudonyms/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { ProjectionRunner, type Projection } from '../projections/runtime/index.ts';
import { now, peakRssMiB, rate } from './stats.ts';

/**
 * Projections benchmark (issue 5): catch-up rate of every projection together over a log of >= 200,000 valid
 * events, and a pseudonym rotation round for 100,000 nodes with the key in the Secure Environment. Figures are
 * rates from one run on one machine; tests never assert them.
 */

const OPERATOR: Actor = { id: 'operator:bench', role: 'operator' };
const SYSTEM: Actor = { id: 'system:process-manager', role: 'system' };
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();
const fp = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;
const n = (x: number) => x.toLocaleString('en-US');

/** Appends valid events straight to the store, one append per stream step, metadata as the engine writes it. */
class Writer {
  written = 0;
  readonly #revisions = new Map<string, bigint>();
  constructor(private readonly store: EventStore) {}

  async append(stream: string, actor: Actor, at: number, events: [EventType, Record<string, unknown>][]): Promise<void> {
    const commandId = eventIdFor(`bench:${stream}`, Number(this.#revisions.get(stream) ?? -1n) + 1);
    const batch: EventToAppend[] = events.map(([type, data], k) => ({
      id: eventIdFor(commandId, k),
      type,
      data: data as EventToAppend['data'],
      metadata: {
        schemaVersion: currentVersionOf(type), actor, commandId, commandType: COMMAND_FOR_EVENT[type],
        correlationId: commandId, causationId: commandId, occurredAt: iso(at),
      },
    }));
    const last = this.#revisions.get(stream);
    await this.store.appendToStream(stream, batch, { expectedRevision: ExpectedRevision.after(last) });
    this.#revisions.set(stream, (last ?? -1n) + BigInt(batch.length));
    this.written += batch.length;
  }
}

const openSecureEnvironment = async () => {
  const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, {
    now: () => new Date(),
    random: (length) => new Uint8Array(randomBytes(length)),
  });
  const owner = 'credence:pseudonyms';
  const handle = await se.generate(owner, 'psk256');
  return { se, deriver: new PseudonymDeriver(secureEnvironmentPseudonymKey(se.forOwner(owner), handle), 0) };
};

/**
 * A fleet whose reactions have all happened already: register + initial pseudonym, enrol, provision, associate
 * with the bookkeeping, and every tenth node's credential compromised with its association revoked and released.
 */
const seedFleet = async (store: EventStore, deriver: PseudonymDeriver, minEvents: number): Promise<number> => {
  const w = new Writer(store);
  await w.append('subscription-bench-sub', OPERATOR, 0, [['SubscriptionCreated', { subscriptionId: 'bench-sub', subscriber: 'bench', notBefore: iso(0), notAfter: iso(400 * DAY) }]]);
  for (let i = 0; w.written < minEvents; i++) {
    const t = i * 10 * SECOND;
    const nodeId = `meter-${i}`;
    const credentialId = `${nodeId}-svc`;
    const associationId = `${nodeId}-sa`;
    const pseudonym = await deriver.node(nodeId, 0);
    await w.append(`node-${nodeId}`, OPERATOR, t, [
      ['NodeRegistered', { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: ['metering'] } }],
    ]);
    await w.append(`pseudonym-${pseudonym}`, { id: 'system:pseudonym-rotation', role: 'system' }, t, [['PseudonymRotated', { pseudonym, nodeId, epoch: 0, trigger: 'initial' }]]);
    await w.append(`node-${nodeId}`, OPERATOR, t + 1, [['NodeEnrolled', { nodeId, subscriptionId: 'bench-sub', cseId: `/${nodeId}` }]]);
    await w.append(`credential-${credentialId}`, OPERATOR, t + 2, [
      ['CredentialIssued', { credentialId, kind: 'ed25519', publicKey: 'A'.repeat(43), purpose: 'service', owner: { kind: 'node', id: nodeId }, fingerprint: fp(i), notBefore: iso(0), notAfter: iso(365 * DAY) }],
      ['CredentialProvisioned', { credentialId, method: 'pre-provisioning' }],
    ]);
    await w.append(`association-${associationId}`, OPERATOR, t + 3, [
      ['AssociationConfigured', { associationId, nodeId, credentialId, registree: { kind: 'cse', id: `/${nodeId}` }, registrarCseId: '/in-cse' }],
      ['AssociationEstablished', { associationId, expiresAt: iso(t + 30 * DAY) }],
    ]);
    await w.append(`credential-${credentialId}`, SYSTEM, t + 4, [['CredentialAssociated', { credentialId, associationId }]]);
    await w.append(`node-${nodeId}`, SYSTEM, t + 4, [['NodeAssociated', { nodeId, associationId }]]);
    if (i % 10 === 0) {
      await w.append(`association-${associationId}`, OPERATOR, t + 5, [['AssociationRevoked', { associationId, reason: 'keyCompromise' }]]);
      await w.append(`credential-${credentialId}`, SYSTEM, t + 6, [['CredentialAssociationReleased', { credentialId, associationId }]]);
      await w.append(`node-${nodeId}`, SYSTEM, t + 6, [['NodeAssociationReleased', { nodeId, associationId }]]);
      await w.append(`credential-${credentialId}`, OPERATOR, t + 7, [['CredentialRevoked', { credentialId, reason: 'keyCompromise' }]]);
    }
  }
  return w.written;
};

const freshDb = (dir: string, name: string): Database.Database => {
  const db = new Database(join(dir, name));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.defaultSafeIntegers(true);
  return db;
};

const catchUpBench = async (report: (line: string) => void, minEvents: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-projections-'));
  const store = openSqliteStoreInDir(dir);
  const { se, deriver } = await openSecureEnvironment();
  let start = now();
  const written = await seedFleet(store, deriver, minEvents);
  report(`seeded ${n(written)} valid events straight into the store in ${((now() - start) / 1000).toFixed(1)}s`);
  const replay = await replayAll(store);
  if (replay.findings.length > 0) throw new Error(`projection bench data is broken: ${replay.findings[0]!.reason}`);

  const engine = createEngine({ store, clock: new FakeClock(iso(400 * DAY)) });
  const runs: [string, () => Projection[]][] = [
    ['read models (audit, compliance, expiry deadlines)', () => [auditTrail(), complianceProjection(), expiryScheduler(engine)]],
    ['all projections (+ cascade process manager, pseudonym rotation)', () => [
      auditTrail(), complianceProjection(), expiryScheduler(engine), cascadeProcessManager(engine),
      pseudonymRotation({ engine, deriver }),
    ]],
  ];
  for (const [i, [label, projections]] of runs.entries()) {
    const db = freshDb(dir, `readmodels-${i}.db`);
    const runner = new ProjectionRunner({ db, store, projections: projections(), batchSize: 1000 });
    const head = await store.headPosition();
    start = now();
    const handled = await runner.catchUp();
    const ms = now() - start;
    if ((await store.headPosition()) !== head) throw new Error('catch-up over a settled log must not append');
    if (danglingAssociations(db).length > 0) throw new Error('the seeded fleet has dangling associations');
    report(`catch-up from 0, ${label}: ${n(written)} events, ${n(handled)} deliveries in ${(ms / 1000).toFixed(2)}s = ${rate(written, ms)} events, ${rate(handled, ms)} deliveries`);
    db.close();
  }
  se.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
};

const rotationBench = async (report: (line: string) => void, nodes: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-rotation-'));
  const store = openSqliteStoreInDir(dir);
  const { se, deriver } = await openSecureEnvironment();
  let start = now();
  const w = new Writer(store);
  for (let i = 0; i < nodes; i++) {
    const nodeId = `meter-${i}`;
    const pseudonym = await deriver.node(nodeId, 0);
    await w.append(`node-${nodeId}`, OPERATOR, 0, [['NodeRegistered', { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: [] } }]]);
    await w.append(`pseudonym-${pseudonym}`, { id: 'system:pseudonym-rotation', role: 'system' }, 0, [['PseudonymRotated', { pseudonym, nodeId, epoch: 0, trigger: 'initial' }]]);
  }
  const seedMs = now() - start;
  report(`seeded ${n(nodes)} nodes with their epoch-0 pseudonym (${n(w.written)} events, ${n(nodes)} PRF calls in the Secure Environment) in ${(seedMs / 1000).toFixed(1)}s`);

  start = now();
  for (let i = 0; i < nodes; i++) await deriver.node(`meter-${i}`, 1_000);
  report(`PRF alone (HMAC-SHA256 by key handle in the embedded Secure Environment): ${rate(nodes, now() - start)}`);

  const clock = new FakeClock(iso(0));
  const engine = createEngine({ store, clock });
  const db = freshDb(dir, 'readmodels.db');
  const rotation: PseudonymRotation = pseudonymRotation({ engine, deriver, policy: { default: { everyMs: DAY } }, tickLimit: nodes });
  // The directory of the seeded epoch 0, built without reactions (they all happened when the nodes were seeded).
  await new ProjectionRunner({ db, store, projections: [{ ...rotation, react: undefined }], batchSize: 5000 }).catchUp();
  const runner = new ProjectionRunner({ db, store, projections: [rotation], batchSize: 5000 });

  clock.advance(DAY);
  start = now();
  const rotated = await rotation.tick();
  const tickMs = now() - start;
  start = now();
  const applied = await runner.catchUp();
  const directoryMs = now() - start;
  if (rotated !== nodes) throw new Error(`expected ${nodes} rotations, got ${rotated}`);
  report(`interval rotation of ${n(nodes)} nodes (PRF + rotatePseudonym command each): ${(tickMs / 1000).toFixed(1)}s = ${rate(rotated, tickMs)}`);
  report(`pseudonym directory catch-up of those rotations: ${n(applied)} events in ${(directoryMs / 1000).toFixed(2)}s = ${rate(applied, directoryMs)}`);
  db.close();
  se.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
};

export async function benchProjections(report: (line: string) => void): Promise<void> {
  await catchUpBench(report, Number(process.env['BENCH_PROJECTION_EVENTS'] ?? 200_000));
  await rotationBench(report, Number(process.env['BENCH_ROTATION_NODES'] ?? 100_000));
  report(`peak RSS so far: ${peakRssMiB()}`);
}
