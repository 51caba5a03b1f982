import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HOUR } from '../adapters/driven/clock/index.ts';
import type { Credence } from '../adapters/runtime/index.ts';
import { command, COMMAND_FOR_EVENT } from '../domain/commands/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import type { EventType } from '../domain/events/index.ts';
import { ExpectedRevision, type RecordedEvent } from '../domain/ports/event-store.ts';
import { decodeStored } from '../domain/stored.ts';
import { currentVersionOf } from '../domain/upcasters.ts';
import { actionsOf, auditTrail, timeline, type AuditEntry } from '../projections/audit/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { twoEstablishedMeters } from './support/two-meters.ts';
import { operator, T0 } from './support/fleet.ts';

/*
 * The audit table leaves NULL what most rows repeat (version 3: a correlation or causation id that is the command
 * id). Every entry the queries give must still be exactly what the log recorded: checked here against entries built
 * straight from the stored events, for every stream and every actor, over a log holding each case (the command's own
 * ids, a cascade's cause, a correlation kept across commands, a causation naming no event, a signed request).
 */

const memoryDb = (): Database.Database => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  return db;
};

const integrator = { id: 'integrator:acme', role: 'integrator' as const };

/** One event appended as a client could have sent it: its own correlation and causation ids. */
const appendWith = async (
  c: Credence,
  stream: string,
  n: number,
  type: EventType,
  data: Record<string, unknown>,
  ids: { commandId?: string; correlationId?: string; causationId?: string; signed?: boolean; actor?: { id: string; role: 'system' } },
): Promise<void> => {
  const commandId = ids.commandId ?? eventIdFor(`audit-ids:${stream}`, n);
  await c.store.appendToStream(
    stream,
    [
      {
        id: eventIdFor(commandId, 0),
        type,
        data: data as never,
        metadata: {
          schemaVersion: currentVersionOf(type),
          actor: ids.actor ?? integrator,
          commandId,
          commandType: COMMAND_FOR_EVENT[type],
          correlationId: ids.correlationId ?? commandId,
          causationId: ids.causationId ?? commandId,
          occurredAt: '2026-03-01T10:00:00+02:00',
          ...(ids.signed === true
            ? { signature: { algorithm: 'ed25519', keyFingerprint: `sha256:${'ab'.repeat(32)}`, value: 'c2ln' } }
            : {}),
        },
      },
    ],
    { expectedRevision: n === 0 ? ExpectedRevision.noStream : ExpectedRevision.after(BigInt(n - 1)) },
  );
};

/** The entry of each stored event, built from the log alone (what version 2 stored column for column). */
const expectedEntries = (records: readonly RecordedEvent[]): AuditEntry[] => {
  const byId = new Map(records.map((r) => [r.id, r]));
  return records.map((record) => {
    const decoded = decodeStored(record);
    if (!decoded.ok) throw new Error(`undecodable test event at ${record.position}`);
    const { metadata } = decoded.value;
    // Only the engine's own (system) actors set a causation the trail resolves; anyone else's is the client's word.
    const cause = metadata.actor.role === 'system' ? byId.get(metadata.causationId) : undefined;
    const reason = (decoded.value.event.data as { reason?: unknown }).reason;
    return {
      position: record.position,
      eventId: record.id,
      streamId: record.streamId,
      revision: record.revision,
      type: record.type,
      occurredAt: metadata.occurredAt,
      actor: { id: metadata.actor.id, role: metadata.actor.role },
      commandId: metadata.commandId,
      commandType: metadata.commandType,
      correlationId: metadata.correlationId,
      causationId: metadata.causationId,
      ...(cause !== undefined ? { causedBy: { position: cause.position, streamId: cause.streamId, type: cause.type } } : {}),
      ...(typeof reason === 'string' ? { reason } : {}),
      signature: metadata.signature === undefined ? { status: 'unsigned' } : { status: 'signed', keyFingerprint: metadata.signature.keyFingerprint },
    };
  });
};

const recordedLog = async (): Promise<{ c: Credence; records: RecordedEvent[] }> => {
  const { c, clock } = await twoEstablishedMeters();
  clock.advance(HOUR);
  // The cascade: the process manager's events name this revocation as their cause.
  await c.engine.execute(command('revokeNode', { nodeId: 'meter-2', reason: 'keyCompromise' }, { actor: operator }));
  await c.settle();
  const all = async () => {
    const records: RecordedEvent[] = [];
    for await (const r of c.store.readAll()) records.push(r);
    return records;
  };
  const cause = (await all()).find((r) => r.type === 'NodeRevoked')!;
  const profile = { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] };
  // A correlation kept across commands, the causation the command itself.
  await appendWith(c, 'node-x1', 0, 'NodeRegistered', { nodeId: 'x1', profile }, { correlationId: 'saga-7' });
  // A causation naming a stored event (and a correlation equal to neither), signed: a client's, so no cause.
  await appendWith(c, 'node-x2', 0, 'NodeRegistered', { nodeId: 'x2', profile }, { correlationId: 'saga-7', causationId: cause.id, signed: true });
  // A causation naming no stored event, the correlation the command itself.
  await appendWith(c, 'node-x3', 0, 'NodeRegistered', { nodeId: 'x3', profile }, { causationId: 'upstream:ticket-42' });
  // The command id given as the causation of a later command's event: the id names no event, so no cause.
  await appendWith(c, 'node-x4', 0, 'NodeRegistered', { nodeId: 'x4', profile }, { causationId: eventIdFor('audit-ids:node-x1', 0) });
  // A system actor's command id that is also a stored event's id, the causation the command itself: that event is its cause.
  await appendWith(c, 'node-x5', 0, 'NodeRegistered', { nodeId: 'x5', profile }, { commandId: cause.id, actor: { id: 'system:process-manager', role: 'system' } });
  return { c, records: await all() };
};

describe('audit trail: entries are what the log recorded', () => {
  it('gives every stream its timeline and every actor its actions exactly as the stored events say, in batches and one by one', async () => {
    const { c, records } = await recordedLog();
    const expected = expectedEntries(records);
    const streams = [...new Set(records.map((r) => r.streamId))];
    const actors = [...new Set(expected.map((e) => e.actor.id))];
    expect(actors.length).toBeGreaterThanOrEqual(3);
    expect(expected.filter((e) => e.causedBy !== undefined).length).toBeGreaterThan(2);
    expect(expected.some((e) => e.correlationId !== e.commandId && e.causationId === e.commandId)).toBe(true);
    expect(expected.some((e) => e.causationId !== e.commandId && e.causedBy === undefined)).toBe(true);
    expect(expected.some((e) => e.causationId === e.commandId && e.causedBy !== undefined)).toBe(true);

    for (const batchSize of [10_000, 1]) {
      const db = memoryDb();
      await new ProjectionRunner({ db, store: c.store, projections: [auditTrail()], batchSize }).catchUp();
      for (const stream of streams) {
        expect(timeline(db, stream)).toEqual(expected.filter((e) => e.streamId === stream).sort((a, b) => Number(a.revision - b.revision)));
      }
      for (const actor of actors) expect(actionsOf(db, actor)).toEqual(expected.filter((e) => e.actor.id === actor));
      // The narrowing is real: the command's own ids are not stored again.
      const nulls = db.prepare('SELECT COUNT(*) AS n FROM audit_events WHERE correlation_id IS NULL AND causation_id IS NULL').get() as { n: bigint };
      expect(Number(nulls.n)).toBe(expected.filter((e) => e.correlationId === e.commandId && e.causationId === e.commandId).length);
      db.close();
    }
    await c.close();
  });

  it('rebuilds an audit table of version 2 (every id stored) from position 0 instead of reading it as version 3', async () => {
    const { c, records } = await recordedLog();
    const db = memoryDb();
    // Version 2: correlation and causation NOT NULL, with a row claiming a correlation the log does not hold, and a
    // checkpoint far along.
    db.exec(`CREATE TABLE audit_events (position INTEGER PRIMARY KEY, event_id TEXT NOT NULL, stream_id TEXT NOT NULL, revision INTEGER NOT NULL,
      type TEXT NOT NULL, occurred_at TEXT NOT NULL, at INTEGER NOT NULL, actor_id TEXT NOT NULL, actor_role TEXT NOT NULL, command_id TEXT NOT NULL,
      command_type TEXT NOT NULL, correlation_id TEXT NOT NULL, causation_id TEXT NOT NULL, reason TEXT, signature_status TEXT NOT NULL,
      signature_key TEXT, event_key INTEGER NOT NULL, cause_key INTEGER NOT NULL);
      CREATE TABLE projection_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL, occurred_at TEXT NOT NULL);
      CREATE TABLE projection_schemas (name TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO projection_schemas VALUES ('audit', 2);
      INSERT INTO projection_checkpoints VALUES ('audit', ${records.length}, '${T0}');
      INSERT INTO audit_events VALUES (1, 'e', 'subscription-x', 0, 'SubscriptionCreated', '${T0}', 0, 'a', 'operator', 'c', 'createSubscription',
        'stale-correlation', 'c', NULL, 'unsigned', NULL, 1, 2)`);
    const runner = new ProjectionRunner({ db, store: c.store, projections: [auditTrail()] });
    expect(runner.checkpoint('audit')).toBeUndefined();
    expect(db.prepare('SELECT COUNT(*) AS n FROM audit_events').get()).toEqual({ n: 0n });
    expect(db.prepare("SELECT version FROM projection_schemas WHERE name = 'audit'").get()).toEqual({ version: 5n });
    await runner.catchUp();
    const expected = expectedEntries(records);
    for (const actor of new Set(expected.map((e) => e.actor.id))) expect(actionsOf(db, actor)).toEqual(expected.filter((e) => e.actor.id === actor));
    db.close();
    await c.close();
  });
});
