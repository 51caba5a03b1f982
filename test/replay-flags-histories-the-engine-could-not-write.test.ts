import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { eventsDbRangeSourceInDir } from '../adapters/driven/store/sqlite/events-db-reader.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { replayInWorkers } from '../adapters/replay-workers/pool.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/event-store.ts';
import { decodeStored } from '../domain/stored.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { standInForEventStoreDb } from './support/fact-claims.ts';
import { partitionOf } from '../projections/replay/partition.ts';
import { replayAll, replayEntity, type FleetReplay } from '../projections/replay/index.ts';
import { configuredThroughClaims, dataDirs, forge } from './replay.fixtures.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';

/*
 * Found in review: histories the engine could not have written that every form of replay passed. A command id used
 * again by a later event (which brought back the facts as they stood at the old command's claims), a stream whose
 * revisions are out of global order, and a lifecycle event stored outside an entity stream (which the PKI read model
 * acted on). Each is now flagged by the one-thread replay, the workers reading the events file, the workers fed by
 * this thread, and the replay of the one entity.
 */

/** Every form's verdict on the store of `dir`, which must be the same. */
const everyForm = async (store: EventStore, dir: string): Promise<FleetReplay> => {
  const single = await replayAll(store);
  for (const workers of [2, 3]) {
    expect((await replayInWorkers(store, { workers, source: eventsDbRangeSourceInDir(dir) })).replay, `${workers} workers reading the file`).toEqual(single);
    expect((await replayInWorkers(store, { workers })).replay, `${workers} workers fed records`).toEqual(single);
  }
  return single;
};

/** Behind the store, in the closed data folder: node-meter-1's revisions 1 and 2 trade places (positions stay). */
const swapNodeRevisionsOneAndTwo = (dir: string): void => {
  const db = new Database(join(dir, 'events.db'));
  for (const [from, to] of [[1, 99], [2, 1], [99, 2]] as const) {
    db.prepare("UPDATE events SET revision = ? WHERE stream_id = 'node-meter-1' AND revision = ?").run(to, from);
  }
  db.close();
};

describe('replay flags what the engine could not have written, in every form', () => {
  const dataDir = dataDirs('credence-replay-could-not-write-');

  it('a command id used again after other events: the old claims do not vouch for it', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    try {
      const { plain, configured } = await configuredThroughClaims(store);
      expect(await everyForm(store, dir)).toMatchObject({ findings: [] });

      await plain.execute(cmd.revokeCredential());
      // Established two days after its credential was revoked, under the configure command's id.
      const forged = await forge(store, 'association-sa-1', 'AssociationEstablished', { associationId: 'sa-1', expiresAt: at(30) }, at(2), configured);
      const verdict = await everyForm(store, dir);
      expect(verdict.findings.map((f) => [f.position, f.reason])).toEqual([
        [forged.position, `command ${configured} was recorded by an earlier append of this stream: a command is recorded once`],
      ]);
      expect(verdict.kinds.association.states).toEqual({ initialized: 1 });
      const entity = await replayEntity(store, 'association-sa-1');
      expect(entity.verdict).toEqual({ ok: false, findings: [expect.objectContaining({ position: forged.position, reason: expect.stringContaining('a command is recorded once') })] });
    } finally {
      await store.close();
    }
  }, 60_000);

  it('an append of several events under one command id: a command is one event, so the second is recorded again', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    try {
      const clock = new FakeClock(T0);
      const plain = createEngine({ store, clock });
      await plain.execute(cmd.createSubscription());
      const metadata = { schemaVersion: 1, actor: operator, commandId: randomUUID(), commandType: 'forged', correlationId: 'c', causationId: 'c', occurredAt: at(0) };
      await plain.execute(cmd.registerNode());
      const [node] = await store.readStream('node-meter-1');
      // One append of two events (enrolled, then revoked) under one command id. The engine decides one event per
      // command (domain/commands/decide.ts); a second, even in the same append with the same metadata, was read as part
      // of the command and judged against its claims (found in review: a forged establishment on a revoked credential).
      const { position } = await store.appendToStream(
        'node-meter-1',
        [
          { id: randomUUID(), type: 'NodeEnrolled', data: { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/cse-meter-1' }, metadata },
          { id: randomUUID(), type: 'NodeRevoked', data: { nodeId: 'meter-1', reason: 'keyCompromise' }, metadata },
        ],
        { expectedRevision: ExpectedRevision.exact(node!.revision) },
      );
      const verdict = await everyForm(store, dir);
      const again = `command ${metadata.commandId} was recorded by an earlier append of this stream: a command is recorded once`;
      expect(verdict.findings.map((f) => [f.position, f.reason])).toEqual([[position, again]]);
      expect((await replayEntity(store, 'node-meter-1')).verdict).toMatchObject({ ok: false, findings: [{ position, reason: again }] });
    } finally {
      await store.close();
    }
  }, 60_000);

  it('a stream whose revisions are out of global order', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(c);
    await engine.execute({ type: 'revokeNode', data: { nodeId: 'meter-1', reason: 'keyCompromise' }, metadata: { actor: operator } });
    await store.close();
    // Enrolled and revoked swap revisions: by revision the node is revoked, then enrolled.
    swapNodeRevisionsOneAndTwo(dir);
    const again = openSqliteStoreInDir(dir);
    try {
      const verdict = await everyForm(again, dir);
      expect(verdict.findings.map((f) => [f.streamId, f.revision, f.reason])).toEqual([
        ['node-meter-1', 1n, 'revision 1 after revision 2: the stream\'s order is broken'],
      ]);
      const entity = await replayEntity(again, 'node-meter-1');
      expect(entity.verdict.ok).toBe(false);
      expect(JSON.stringify(entity.steps.map((s) => s.reason ?? null))).toContain("the stream's order is broken");
    } finally {
      await again.close();
    }
  }, 60_000);

  it('a fact stream out of global order is judged whole by the replay of one entity that reads it, as the fleet judges it (found in review)', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential()]) await engine.execute(c);
    const claim = { id: randomUUID(), type: FACT_CLAIM_TYPE, data: { claimant: 'association-other', commandId: 'c-1' }, metadata: {} };
    await store.appendToStream('node-meter-1', [claim], { expectedRevision: ExpectedRevision.after((await store.readStream('node-meter-1')).at(-1)?.revision) });
    await engine.execute(cmd.configureAssociation());
    await store.close();
    // The claim and the enrolment swap revisions: by revision the node reads registered, claim, enrolled.
    swapNodeRevisionsOneAndTwo(dir);
    const again = openSqliteStoreInDir(dir);
    try {
      const fleet = await replayAll(again);
      expect(new Set(fleet.findings.map((f) => f.streamId))).toEqual(new Set(['node-meter-1']));
      for (const streamId of ['node-meter-1', 'association-sa-1']) {
        const entity = await replayEntity(again, streamId);
        expect(entity.verdict.ok ? [] : entity.verdict.findings.map((f) => [f.position, f.reason]), streamId).toEqual(
          fleet.findings.filter((f) => f.streamId === streamId).map((f) => [f.position, f.reason]),
        );
      }
    } finally {
      await again.close();
    }
  }, 60_000);

  it('a lifecycle event outside an entity stream: flagged, and no reader takes it for the entity it names', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    try {
      const clock = new FakeClock(T0);
      const engine = createEngine({ store, clock });
      for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential()]) await engine.execute(c);
      const revocation = { credentialId: 'cred-1', reason: 'keyCompromise' };
      const outside = await forge(store, 'x-cred-1', 'CredentialRevoked', revocation, at(1), randomUUID());
      const elsewhere = await forge(store, 'Credential-cred-1', 'CredentialRevoked', revocation, at(1), randomUUID());
      // Another tool's own event in its own stream stays foreign, not a finding, even one whose type is called as a
      // Credence one (found in review: another inventory's NodeRegistered was flagged).
      await forge(store, 'billing-42', 'InvoiceSent', { total: 3 }, at(1), randomUUID());
      await forge(store, 'inventory-42', 'NodeRegistered', { rack: 'B7', u: 12 }, at(1), randomUUID());
      const verdict = await everyForm(store, dir);
      expect(verdict.findings.map((f) => [f.position, f.reason])).toEqual([
        [outside.position, 'CredentialRevoked is stored outside an entity stream'],
        [elsewhere.position, 'CredentialRevoked is stored outside an entity stream'],
      ]);
      expect(verdict.foreignEvents).toBe(2);
      expect(verdict.kinds.credential.states).toEqual({ enrolled: 1 });
      // Read models, reactions and subscribers decode through decodeStored: it refuses both, so none acts on them.
      for await (const record of store.readAll()) {
        if (record.streamId === 'x-cred-1' || record.streamId === 'Credential-cred-1') {
          expect(decodeStored(record)).toEqual({ ok: false, reason: `CredentialRevoked is addressed to cred-1 but stored in ${record.streamId}`, misplaced: true });
        }
      }
    } finally {
      await store.close();
    }
  }, 60_000);

  it("a fact claim at a revision below its stream's last, made by a claimant another worker judges", async () => {
    // Found in review: a claim is judged in its claimant's partition, which never saw the fact entity's revisions held
    // by another worker, so the workers missed the order one pass over the log flags.
    const dir = dataDir();
    let store = openSqliteStoreInDir(dir);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(c);
    await store.close();
    // The node's revisions 0 and 5 (a gap is not judged), then a claim on it at revision 3 by a claimant that both
    // two and three workers judge elsewhere than the node.
    const claimant = Array.from({ length: 50 }, (_, i) => `association-sa-${i}`).find((s) =>
      [2, 3].every((n) => partitionOf(s, n) !== partitionOf('node-meter-1', n)),
    )!;
    const db = new Database(join(dir, 'events.db'));
    db.prepare("UPDATE events SET revision = 5 WHERE stream_id = 'node-meter-1' AND revision = 1").run();
    const claim = db
      .prepare('INSERT INTO events (stream_id, revision, event_id, type, data, metadata) VALUES (?, 3, ?, ?, ?, ?)')
      .run('node-meter-1', randomUUID(), FACT_CLAIM_TYPE, JSON.stringify({ claimant, commandId: randomUUID() }), '{}');
    db.close();
    // EventStoreDB's claims, in the embedded store standing in for it (on the embedded store's own log a claim is foreign).
    store = standInForEventStoreDb(openSqliteStoreInDir(dir));
    try {
      const verdict = await everyForm(store, dir);
      expect(verdict.findings.map((f) => [f.position, f.reason])).toEqual([
        [BigInt(claim.lastInsertRowid), "revision 3 after revision 5: the stream's order is broken"],
      ]);
    } finally {
      await store.close();
    }
  }, 60_000);
});
