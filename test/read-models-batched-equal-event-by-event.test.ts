import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FakeClock, HOUR } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command, COMMAND_FOR_EVENT } from '../domain/commands/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import type { EventType } from '../domain/events/index.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/event-store.ts';
import { decodeStored } from '../domain/stored.ts';
import { currentVersionOf } from '../domain/upcasters.ts';
import { auditTrail, timeline } from '../projections/audit/index.ts';
import { complianceProjection } from '../projections/compliance/index.ts';
import { allEntities, entitiesProjection } from '../projections/entities/index.ts';
import { expiryScheduler } from '../projections/expiry/index.ts';
import { ProjectionRunner, type Projection } from '../projections/runtime/index.ts';
import { cmd, establishMeter, operator, T0 } from './support/fleet.ts';

const TABLES = [
  'audit_events',
  'entities',
  'compliance_revocations',
  'compliance_enrolments',
  'compliance_enrolment_history',
  'compliance_credentials',
  'compliance_provisioned',
  'compliance_associations',
  'expiry_deadlines',
];

const dump = (db: Database.Database): Record<string, unknown[]> =>
  Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()]));

const indexesOf = (db: Database.Database): string[] =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map(
    (r) => r.name,
  );

const memoryDb = (): Database.Database => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  return db;
};

/** Appends events straight to the store, metadata as the engine writes it: how a log holds what a machine refuses. */
const appendRaw = async (store: EventStore, stream: string, n: number, type: EventType, data: Record<string, unknown>): Promise<void> => {
  const commandId = eventIdFor(`test:${stream}`, n);
  await store.appendToStream(
    stream,
    [
      {
        id: eventIdFor(commandId, 0),
        type,
        data: data as never,
        metadata: {
          schemaVersion: currentVersionOf(type), actor: operator, commandId, commandType: COMMAND_FOR_EVENT[type],
          correlationId: commandId, causationId: commandId, occurredAt: T0,
        },
      },
    ],
    { expectedRevision: n === 0 ? ExpectedRevision.noStream : ExpectedRevision.after(BigInt(n - 1)) },
  );
};

/**
 * Four meters through their lifecycle (a revocation cascade included, so audit entries have causes) and three
 * entities whose stored events their machines refuse: enrolled before registered (twice: the first refusal is the
 * one named), and an event addressed to another node than its stream's (which read models pass over).
 */
const fleet = async (c: Credence, clock: FakeClock): Promise<void> => {
  const run = (x: unknown) => c.engine.execute(x);
  await run(cmd.createSubscription());
  for (const n of [1, 2, 3, 4]) {
    clock.advance(HOUR);
    await run(cmd.registerNode(`meter-${n}`));
    await establishMeter(c.engine, n);
  }
  await c.settle();
  clock.advance(HOUR);
  await run(command('revokeNode', { nodeId: 'meter-2', reason: 'keyCompromise' }, { actor: operator }));
  await run(cmd.revokeCredential('cred-3', 'superseded'));
  await c.settle();
  await appendRaw(c.store, 'node-ghost', 0, 'NodeEnrolled', { nodeId: 'ghost', subscriptionId: 'sub-1', cseId: '/ghost' });
  await appendRaw(c.store, 'node-ghost', 1, 'NodeEnrolled', { nodeId: 'ghost', subscriptionId: 'sub-1', cseId: '/ghost-2' });
  await appendRaw(c.store, 'node-stray', 0, 'NodeRegistered', { nodeId: 'elsewhere', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] } });
};

const readModels = (c: Credence): Projection[] => [auditTrail(), complianceProjection(), entitiesProjection(), expiryScheduler(c.engine)];

const opened = async (): Promise<Credence> => {
  const clock = new FakeClock(T0);
  const c = openCredence({ location: { memory: true }, clock });
  await fleet(c, clock);
  return c;
};

describe('read models applied in batches', () => {
  it('equal the rows of event-by-event application, whatever the batch size, query indexes included', async () => {
    const c = await opened();
    const big = memoryDb();
    await new ProjectionRunner({ db: big, store: c.store, projections: readModels(c), batchSize: 10_000 }).catchUp();
    const small = memoryDb();
    await new ProjectionRunner({ db: small, store: c.store, projections: readModels(c), batchSize: 3 }).catchUp();

    // Each event on its own through `apply`, outside any batch (what the reaction path does).
    const single = memoryDb();
    const projections = readModels(c);
    for (const p of projections) p.setup(single);
    for await (const record of c.store.readAll()) {
      const decoded = decodeStored(record);
      if (!decoded.ok) continue;
      for (const p of projections) if (p.eventTypes === undefined || p.eventTypes.includes(record.type)) single.transaction(() => p.apply!(single, decoded.value))();
    }

    const expected = dump(single);
    expect(expected['audit_events']!.length).toBeGreaterThan(30);
    expect(dump(big)).toEqual(expected);
    expect(dump(small)).toEqual(expected);
    expect(indexesOf(big)).toEqual(indexesOf(single));

    const broken = Object.fromEntries(allEntities(big).filter((r) => r.broken !== undefined).map((r) => [r.streamId, [r.state, r.broken!.reason]]));
    expect(Object.keys(broken)).toEqual(['node-ghost']);
    // An event stored outside its entity's stream is no fact of any entity (decodeStored): no read model acts on it.
    expect(allEntities(big).some((r) => r.streamId === 'node-stray' || r.streamId === 'node-elsewhere')).toBe(false);
    const ghost = allEntities(big).find((r) => r.streamId === 'node-ghost')!;
    // The first refused event is the one named, and the row still moved to the stream's last revision.
    expect([ghost.revision, ghost.broken!.position < ghost.position]).toEqual([1n, true]);

    // Causes are found through the hashed event id: the cascade's revocation of cred-2 names meter-2's revocation.
    const cred2 = timeline(big, 'credential-cred-2').find((e) => e.type === 'CredentialRevoked')!;
    expect(cred2.causedBy).toMatchObject({ streamId: 'node-meter-2', type: 'NodeRevoked' });
    expect(timeline(big, 'credential-cred-2')).toEqual(timeline(single, 'credential-cred-2'));
    await c.close();
  });

  it('a catch-up from position 0 that fails leaves the query indexes in place, and nothing of the failing batch', async () => {
    const c = await opened();
    const db = memoryDb();
    const healthy = auditTrail();
    let applied = 0;
    let during: string[] = [];
    const failing: Projection = {
      ...healthy,
      apply(d, e) {
        healthy.apply!(d, e);
        if (applied === 0) during = indexesOf(d);
        if (++applied === 12) throw new Error('disk full (simulated)');
      },
    };
    const runner = new ProjectionRunner({ db, store: c.store, projections: [failing], batchSize: 5 });
    const before = indexesOf(db);
    expect(before).toContain('audit_events_stream');
    await expect(runner.catchUp()).rejects.toThrow('disk full');
    // A full first page from position 0: the query indexes were dropped while the rows went in, then built again.
    expect(during).not.toContain('audit_events_stream');
    expect(indexesOf(db)).toEqual(before);
    expect(db.prepare('SELECT COUNT(*) AS n FROM audit_events').get()).toEqual({ n: 10n });

    // A process that stopped while they were dropped gets them back when it sets the read models up again.
    for (const name of before) db.exec(`DROP INDEX ${name}`);
    new ProjectionRunner({ db, store: c.store, projections: [auditTrail()] });
    expect(indexesOf(db)).toEqual(before);
    await c.close();
  });

  it('rebuilds an audit trail written with the earlier table shape from position 0, instead of failing on it', async () => {
    const c = await opened();
    const db = memoryDb();
    // Version 1 of the table: no event_key / cause_key, with a checkpoint far along.
    db.exec(`CREATE TABLE audit_events (position INTEGER PRIMARY KEY, event_id TEXT NOT NULL, stream_id TEXT NOT NULL, revision INTEGER NOT NULL,
      type TEXT NOT NULL, occurred_at TEXT NOT NULL, at INTEGER NOT NULL, actor_id TEXT NOT NULL, actor_role TEXT NOT NULL, command_id TEXT NOT NULL,
      command_type TEXT NOT NULL, correlation_id TEXT NOT NULL, causation_id TEXT NOT NULL, reason TEXT, signature_status TEXT NOT NULL, signature_key TEXT);
      CREATE INDEX audit_events_event_id ON audit_events (event_id);
      CREATE TABLE projection_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL, occurred_at TEXT NOT NULL);
      INSERT INTO projection_checkpoints VALUES ('audit', 5, '${T0}'), ('other', 7, '${T0}')`);
    const runner = new ProjectionRunner({ db, store: c.store, projections: [auditTrail()] });
    expect(runner.checkpoint('audit')).toBeUndefined();
    expect(indexesOf(db)).not.toContain('audit_events_event_id');
    await runner.catchUp();
    const clean = memoryDb();
    await new ProjectionRunner({ db: clean, store: c.store, projections: [auditTrail()] }).catchUp();
    expect(db.prepare('SELECT * FROM audit_events ORDER BY position').all()).toEqual(clean.prepare('SELECT * FROM audit_events ORDER BY position').all());
    // Another projection's checkpoint is left alone, and opening again migrates nothing more.
    expect(db.prepare("SELECT position FROM projection_checkpoints WHERE name = 'other'").get()).toEqual({ position: 7n });
    const head = runner.checkpoint('audit');
    new ProjectionRunner({ db, store: c.store, projections: [auditTrail()] });
    expect(runner.checkpoint('audit')).toBe(head);
    await c.close();
  });
});
