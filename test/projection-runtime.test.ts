import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { decodeStored, type DecodedEvent } from '../domain/stored.ts';
import { MINUTE, SECOND } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { ProjectionRunner, readCheckpoint, type Projection } from '../projections/runtime/index.ts';
import { auditTrail, SIGNATURE_PRESENCE_RULES } from '../projections/audit/index.ts';
import { complianceProjection } from '../projections/compliance/index.ts';
import { cascadeProcessManager } from '../projections/cascade/index.ts';
import { expiryScheduler } from '../projections/expiry/index.ts';
import { PseudonymDeriver, pseudonymRotation, type PseudonymKey } from '../projections/pseudonyms/index.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { main } from '../bin/cli.ts';
import { at, cmd, footprint, operator, T0 } from './support/fleet.ts';
import { capture } from './support/cli.ts';
import { failingOnApply } from './support/failing-projection.ts';

const READ_MODEL_TABLES = [
  'audit_events',
  'compliance_revocations',
  'compliance_enrolments',
  'compliance_enrolment_history',
  'compliance_credentials',
  'compliance_provisioned',
  'compliance_associations',
  'cascade_dependents',
  'expiry_deadlines',
  'pseudonym_nodes',
  'pseudonym_directory',
  'pseudonym_resolutions',
];

/** Every row of every read-model table that exists in `db`, in a stable order. */
const dump = (db: Database.Database): Record<string, unknown[]> => {
  const out: Record<string, unknown[]> = {};
  for (const table of READ_MODEL_TABLES) {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
    if (exists !== undefined) out[table] = db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2, 3`).all();
  }
  return out;
};

const testKey: PseudonymKey = { prf: async (m) => hmacSha256(new Uint8Array(32).fill(7), m) };

/** A fleet story that exercises every read model: enrolment, provisioning, associations, a revocation cascade, expiry. */
const story = async (c: Credence, clock: FakeClock, afterEach: () => Promise<void> = async () => {}) => {
  const steps: unknown[] = [
    cmd.createSubscription(),
    cmd.registerNode('meter-1'),
    cmd.registerNode('meter-2'),
    cmd.enrolNode('meter-1'),
    cmd.enrolNode('meter-2'),
    cmd.issueCredential('cred-1', 'meter-1'),
    cmd.issueCredential('cred-2', 'meter-2', at(20)),
    cmd.provisionCredential('cred-1'),
    cmd.provisionCredential('cred-2'),
    cmd.configureAssociation('sa-1', 'cred-1', 'meter-1'),
    cmd.establishAssociation('sa-1'),
    cmd.configureAssociation('sa-2', 'cred-2', 'meter-2'),
    cmd.establishAssociation('sa-2', at(10)),
    cmd.revokeCredential('cred-1', 'keyCompromise'),
  ];
  for (const step of steps) {
    clock.advance(MINUTE);
    await c.engine.execute(step);
    await afterEach();
  }
  clock.set(at(21));
  await c.tick();
  await afterEach();
};

const openWithPseudonyms = (clock: FakeClock, store?: EventStore) =>
  openCredence({
    location: { memory: true },
    clock,
    ...(store ? { store } : {}),
    pseudonyms: { key: testKey, policy: { default: { onAssociation: true } } },
  });

const readAllDecoded = async (store: EventStore): Promise<DecodedEvent[]> => {
  const out: DecodedEvent[] = [];
  for await (const r of store.readAll()) {
    const d = decodeStored(r);
    if (d.ok) out.push(d.value);
  }
  return out;
};

describe('projection runtime', () => {
  it('rebuilding every projection from position 0 gives the read models that incremental application built', async () => {
    const clock = new FakeClock(T0);
    const c = openWithPseudonyms(clock);
    await story(c, clock, () => c.settle());
    const incremental = dump(c.readModels);
    expect(incremental['audit_events']!.length).toBeGreaterThan(20);
    expect(incremental['pseudonym_directory']!.length).toBeGreaterThan(2);
    const before = await footprint(c.store);

    for (const name of c.runner.names) await c.runner.rebuild(name);

    expect(dump(c.readModels)).toEqual(incremental);
    // Rebuilding re-runs reactions, whose derived command ids make them no-ops: nothing new is stored.
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });

  it('one big catch-up on a fresh read-model database equals event-by-event application', async () => {
    const clock = new FakeClock(T0);
    const c = openWithPseudonyms(clock);
    await story(c, clock, () => c.settle());
    const fresh = new Database(':memory:');
    fresh.defaultSafeIntegers(true);
    const runner = new ProjectionRunner({ db: fresh, store: c.store, projections: [auditTrail(), complianceProjection()], batchSize: 10_000 });
    await runner.catchUp();
    const expected = dump(c.readModels);
    const actual = dump(fresh);
    for (const table of Object.keys(actual)) expect(actual[table], table).toEqual(expected[table]);
    await c.close();
  });

  it('applies an event delivered twice as if it had been delivered once (idempotent handlers)', async () => {
    const clock = new FakeClock(T0);
    const c = openWithPseudonyms(clock);
    await story(c, clock, () => c.settle());
    const events = await readAllDecoded(c.store);
    const engine = c.engine;
    const projections = (): Projection[] => [
      auditTrail(),
      complianceProjection(),
      cascadeProcessManager(engine),
      expiryScheduler(engine),
      pseudonymRotation({ engine, deriver: new PseudonymDeriver(testKey) }),
    ];
    const build = (times: number) => {
      const db = new Database(':memory:');
      db.defaultSafeIntegers(true);
      const ps = projections();
      for (const p of ps) p.setup(db);
      for (const e of events) for (const p of ps) for (let i = 0; i < times; i++) p.apply?.(db, e);
      return dump(db);
    };
    const once = build(1);
    expect(once['compliance_revocations']!.length).toBeGreaterThan(0);
    expect(build(2)).toEqual(once);
    await c.close();
  });

  it('redelivers from an older checkpoint without changing the read models', async () => {
    const clock = new FakeClock(T0);
    const c = openWithPseudonyms(clock);
    await story(c, clock, () => c.settle());
    const settled = dump(c.readModels);
    // As if the checkpoint write had been lost: every projection sees its events again.
    c.readModels.prepare('UPDATE projection_checkpoints SET position = 3').run();
    for (const name of c.runner.names) expect(c.runner.checkpoint(name)).toBe(3n);
    await c.settle();
    // Every projection went through its events again, up to the head, and its read model did not change.
    const head = await c.store.headPosition();
    for (const name of c.runner.names) expect((await c.runner.lag(name)).eventsBehind, name).toBe(0);
    expect(c.runner.names.some((name) => c.runner.checkpoint(name) === head)).toBe(true);
    expect(dump(c.readModels)).toEqual(settled);
    await c.close();
  });

  it('keeps nothing of a batch whose handler fails, leaves the checkpoint where it was, and resumes to the clean result', async () => {
    const clock = new FakeClock(T0);
    const c = openWithPseudonyms(clock);
    await story(c, clock, () => c.settle());
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const faulty = failingOnApply(auditTrail(), 8, 'disk full (simulated) inside the transaction');
    const crashing = new ProjectionRunner({ db, store: c.store, projections: [faulty], batchSize: 5 });
    await expect(crashing.catchUp()).rejects.toThrow('disk full');
    const events = await readAllDecoded(c.store);
    // Batch 1 (events 1-5) committed with its checkpoint; batch 2 failed at its 3rd event and left nothing.
    expect(readCheckpoint(db, 'audit')?.position).toBe(events[4]!.record.position);
    expect((db.prepare('SELECT position FROM audit_events ORDER BY position').all() as { position: bigint }[]).map((r) => r.position)).toEqual(
      events.slice(0, 5).map((e) => e.record.position),
    );

    const resumed = new ProjectionRunner({ db, store: c.store, projections: [auditTrail()], batchSize: 5 });
    await resumed.catchUp();
    const clean = new Database(':memory:');
    clean.defaultSafeIntegers(true);
    await new ProjectionRunner({ db: clean, store: c.store, projections: [auditTrail()] }).catchUp();
    expect(dump(db)).toEqual(dump(clean));
    await c.close();
  });

  it('after a crash between a reaction and its checkpoint, the re-run does not issue the reaction twice', async () => {
    const clock = new FakeClock(T0);
    const store = openSqliteStore({ memory: true });
    const c = openWithPseudonyms(clock, store);
    await c.engine.execute(cmd.createSubscription());
    await c.engine.execute(cmd.registerNode('meter-1'));
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const rotation = pseudonymRotation({ engine: c.engine, deriver: new PseudonymDeriver(testKey) });
    const crashing: Projection = {
      ...rotation,
      apply() {
        throw new Error('power cut after the reaction, before the checkpoint');
      },
    };
    await expect(new ProjectionRunner({ db, store, projections: [crashing] }).catchUp()).rejects.toThrow('power cut');
    const rotated = async () => (await readAllDecoded(store)).filter((e) => e.event.type === 'PseudonymRotated').length;
    expect(await rotated()).toBe(1);
    expect(readCheckpoint(db, 'pseudonyms')).toBeUndefined();

    await new ProjectionRunner({ db, store, projections: [rotation] }).catchUp();
    expect(await rotated()).toBe(1);
    expect((db.prepare('SELECT COUNT(*) AS n FROM pseudonym_directory').get() as { n: bigint }).n).toBe(1n);
    await c.close();
  });

  it('reports lag as events and seconds behind the newest stored event', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    await c.engine.execute(cmd.createSubscription());
    await c.engine.execute(cmd.registerNode('meter-1'));
    await c.settle();
    expect(await c.runner.lag('audit')).toMatchObject({ eventsBehind: 0, secondsBehind: 0 });

    clock.advance(30 * SECOND);
    await c.engine.execute(cmd.enrolNode('meter-1'));
    clock.advance(60 * SECOND);
    await c.engine.execute(cmd.issueCredential('cred-1', 'meter-1'));
    const lag = await c.runner.lag('audit');
    expect(lag).toEqual({ name: 'audit', checkpoint: 2n, head: 4n, eventsBehind: 2, secondsBehind: 90 });
    // Lag counts only the event types a projection handles: expiry takes CredentialIssued but not NodeEnrolled.
    expect((await c.runner.lag('compliance')).eventsBehind).toBe(2);
    expect((await c.runner.lag('expiry')).eventsBehind).toBe(1);

    await c.settle();
    expect(await c.runner.lag('audit')).toMatchObject({ checkpoint: 4n, eventsBehind: 0, secondsBehind: 0 });
    await c.close();
  });

  it('follows the store live after start() and stops cleanly', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    await c.engine.execute(cmd.createSubscription());
    await c.runner.start();
    await c.engine.execute(command('registerNode', { nodeId: 'meter-9', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] } }, { actor: operator }));
    await vi.waitFor(() => {
      expect(c.readModels.prepare("SELECT type FROM audit_events WHERE stream_id = 'node-meter-9'").all()).toEqual([{ type: 'NodeRegistered' }]);
    });
    await c.runner.stop();
    await c.engine.execute(cmd.enrolNode('meter-9'));
    await new Promise((r) => setTimeout(r, 50));
    expect(c.readModels.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE stream_id = 'node-meter-9'").get()).toEqual({ n: 1n });
    await c.close();
  });

  it('credence projections reports each checkpoint and lag, and rebuilds a read model to the same rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-projections-'));
    try {
      const clock = new FakeClock(T0);
      const c = openCredence({ location: { dir }, clock });
      await story(c, clock, () => c.settle());
      const head = await c.store.headPosition();
      const audit = dump(c.readModels)['audit_events'];
      await c.engine.execute(cmd.registerNode('meter-7'));
      await c.close();
      const { io, out, err } = capture();

      expect(await main(['projections', '--json', '--data', dir], io)).toBe(0);
      const lags = (JSON.parse(out.join('\n')) as { components: { name: string; checkpoint: string; head: string; eventsBehind: number }[] }).components;
      expect(lags.map((l) => [l.name, l.eventsBehind])).toEqual([['cascade', 0], ['expiry', 0], ['audit', 1], ['compliance', 0], ['entities', 1], ['pki', 0]]);
      expect(lags.find((l) => l.name === 'audit')).toMatchObject({ checkpoint: String(head), head: String(head! + 1n) });

      out.length = 0;
      expect(await main(['projections', 'rebuild', 'audit', '--data', dir], io)).toBe(0);
      expect(out).toEqual([`rebuilt audit from position 0: ${Number(head) + 1} events, under ${SIGNATURE_PRESENCE_RULES.description}`]);
      const db = new Database(join(dir, 'readmodels.db'));
      db.defaultSafeIntegers(true);
      const rebuilt = db.prepare('SELECT * FROM audit_events ORDER BY 1, 2, 3').all();
      db.close();
      expect(rebuilt.slice(0, audit!.length)).toEqual(audit);
      expect(rebuilt).toHaveLength(audit!.length + 1);

      expect(await main(['projections', 'rebuild', 'nope', '--data', dir], io)).toBe(2);
      expect(err.at(-1)).toContain('unknown projection nope');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
