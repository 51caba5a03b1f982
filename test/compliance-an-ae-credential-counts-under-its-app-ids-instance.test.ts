import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/event-store.ts';
import { complianceProjection, provisionedUnder } from '../projections/compliance/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';
import { enrolledApplication } from './support/credential-holders.ts';

/*
 * Seed 003 11.2.1 (credentials provisioned while their node was enrolled under an M2M Service Subscription), RS-01.
 * An AE credential that names its App-ID (review 41) was credited by the compliance read model to whichever node
 * last used the AE-ID in any association, another App-ID's use of the same AE-ID included: listed under the other
 * node's subscription. It counts under the node of its own App-ID's instance under that AE-ID now (`app-ae`, as the
 * cascade since review 44); one stored before owners named their holder still follows the AE-ID's last user.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const TABLES = ['compliance_revocations', 'compliance_enrolments', 'compliance_credentials', 'compliance_provisioned', 'compliance_associations', 'compliance_identifiers'];
const dump = (db: Database.Database): Record<string, unknown[]> =>
  Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()]));

/** AE `Cx` of `appId` on `nodeId`, on `credentialId`. */
const instance = (associationId: string, credentialId: string, nodeId: string, appId: string) =>
  command('configureAssociation', { associationId, nodeId, credentialId, registree: { kind: 'ae', id: 'Cx', appId }, registrarCseId: '/in-cse' }, { actor: operator });
const aeCredential = (credentialId: string, appId: string) => cmd.issueCredential(credentialId, 'meter-1', at(300), { owner: { kind: 'ae', id: 'Cx', appId } });

/** Stores a CredentialIssued as before review 41: its `ae` owner names no App-ID. */
const storeOldShape = async (store: EventStore, credentialId: string, now: Date): Promise<void> => {
  const commandId = crypto.randomUUID();
  const data = aeCredential(credentialId, 'RA').data as Record<string, unknown>;
  await store.appendToStream(`credential-${credentialId}`, [{
    id: eventIdFor(commandId, 0), type: 'CredentialIssued', data: { ...data, owner: { kind: 'ae', id: 'Cx' } } as never,
    metadata: { schemaVersion: 1, actor: operator, commandId, commandType: 'issueCredential', correlationId: commandId, causationId: commandId, occurredAt: now.toISOString() },
  }], { expectedRevision: ExpectedRevision.noStream });
};

/**
 * Given meter-1 under sub-1 and meter-2 under sub-2, App-ID RA's AE Cx on meter-1, then App-ID RB's use of AE-ID Cx
 * on meter-2 (the latest association naming Cx). RA's credential `ra-ae` is issued before RB's use, `ra-ae-late` after.
 */
const twoAppIdsUseCx = async (): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  for (const x of [cmd.createSubscription(), cmd.createSubscription('sub-2'), cmd.registerNode(), cmd.enrolNode(), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2', 'sub-2')]) {
    await c.engine.execute(x);
  }
  await enrolledApplication(c.engine, 'RA');
  await enrolledApplication(c.engine, 'RB');
  await c.engine.execute(aeCredential('ra-ae', 'RA'));
  await c.engine.execute(instance('sa-ra', 'RA-cred', 'meter-1', 'RA'));
  await c.engine.execute(cmd.establishAssociation('sa-ra'));
  await c.engine.execute(instance('sa-rb', 'RB-cred', 'meter-2', 'RB'));
  await c.engine.execute(cmd.establishAssociation('sa-rb'));
  await c.engine.execute(aeCredential('ra-ae-late', 'RA'));
  return c;
};

const listed = (c: Credence, subscriptionId: string) => provisionedUnder(c.readModels, subscriptionId).map((r) => [r.credentialId, r.nodeId]);

describe('the compliance provisioned query credits an AE credential naming its App-ID to that App-ID\'s instance (RS-01, seed 003 11.2.1)', () => {
  it('lists RA\'s AE credentials under sub-1 (RA\'s Cx on meter-1), not under sub-2 though RB used AE-ID Cx on meter-2 last', async () => {
    const c = await twoAppIdsUseCx();
    await c.engine.execute(cmd.provisionCredential('ra-ae'));
    // Read models caught up between the two: the credential row is read back from the table at the provisioning.
    await c.settle();
    await c.engine.execute(cmd.provisionCredential('ra-ae-late'));
    await c.settle();
    expect(listed(c, 'sub-1')).toEqual([['ra-ae', 'meter-1'], ['ra-ae-late', 'meter-1']]);
    expect(listed(c, 'sub-2')).toEqual([]);
  });

  it('one stored before owners named their App-ID follows the AE-ID\'s last user, as it did', async () => {
    const c = await twoAppIdsUseCx();
    await storeOldShape(c.store, 'legacy-ae', c.engine.clock.now());
    await c.engine.execute(cmd.provisionCredential('legacy-ae'));
    await c.settle();
    expect(listed(c, 'sub-2')).toEqual([['legacy-ae', 'meter-2']]);
    expect(listed(c, 'sub-1')).toEqual([]);
  });

  it('is not listed while its App-ID has no instance under the AE-ID, whoever else uses it', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.createSubscription('sub-2'), cmd.registerNode(), cmd.enrolNode(), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2', 'sub-2')]) {
      await c.engine.execute(x);
    }
    await enrolledApplication(c.engine, 'RA');
    await enrolledApplication(c.engine, 'RB');
    await c.engine.execute(instance('sa-rb', 'RB-cred', 'meter-2', 'RB'));
    await c.engine.execute(aeCredential('ra-ae', 'RA'));
    await c.engine.execute(cmd.provisionCredential('ra-ae'));
    await c.settle();
    expect(listed(c, 'sub-1')).toEqual([]);
    expect(listed(c, 'sub-2')).toEqual([]);
  });

  it('a rebuild from the log, and a catch-up from 0 in small batches, give the same rows', async () => {
    const c = await twoAppIdsUseCx();
    await storeOldShape(c.store, 'legacy-ae', c.engine.clock.now());
    await c.engine.execute(cmd.provisionCredential('ra-ae'));
    await c.engine.execute(cmd.provisionCredential('ra-ae-late'));
    await c.engine.execute(cmd.provisionCredential('legacy-ae'));
    await c.settle();
    const rows = dump(c.readModels);
    expect(listed(c, 'sub-1')).toEqual([['ra-ae', 'meter-1'], ['ra-ae-late', 'meter-1']]);

    await c.runner.rebuild('compliance');
    await c.settle();
    expect(dump(c.readModels)).toEqual(rows);

    for (const batchSize of [1, 3]) {
      const db = new Database(':memory:');
      db.defaultSafeIntegers(true);
      await new ProjectionRunner({ db, store: c.store, projections: [complianceProjection()], batchSize }).catchUp();
      expect(dump(db), `batches of ${batchSize}`).toEqual(rows);
      db.close();
    }
  });
});
