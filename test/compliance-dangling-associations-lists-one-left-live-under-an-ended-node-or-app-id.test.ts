import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { csvColumnsOf } from '../adapters/http/routes/compliance-rows.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { answerQuery, COMPLIANCE_QUERIES, complianceProjection, danglingAssociations, type DanglingAssociationRow } from '../projections/compliance/index.ts';
import { readCheckpoint } from '../projections/runtime/index.ts';
import { setupCheckpoints, writeCheckpoint } from '../projections/runtime/checkpoints.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';

/*
 * Review 249: `dangling-associations` looked at each association's own credential alone. An association left live
 * under a revoked node, a node whose enrolment expired, a revoked App-ID or an App-ID whose enrolment ended (a cascade
 * that dead-lettered, a store written around the engine) was not listed, though the query is the cascade's check. Each
 * case below writes the ending through the engine and brings the compliance read model alone up to it, the cascade
 * not run (as the credential's case is tested, test/compliance-queries.test.ts), then lets the cascade settle it.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const APP = 'Rbilling';
const run = (c: Credence, input: unknown) => c.engine.execute(input);
const positionOf = async (c: Credence, input: unknown) => (await run(c, input)).events[0]!.position;
const ofRows = (rows: readonly DanglingAssociationRow[]) =>
  rows.map((r) => [r.associationId, r.associationStatus, r.credentialStatus, r.parent.kind, r.parent.id, r.parent.endedBy, r.position]);

/** meter-1 enrolled, with sa-1 established on its own provisioned cred-1. */
const nodeWithAssociation = async () => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential()]) await run(c, x);
  await run(c, cmd.configureAssociation('sa-1'));
  await run(c, cmd.establishAssociation('sa-1'));
  await c.settle();
  return c;
};

/** The App-ID enrolled with app-cred-1, and its instance Cbill1 on meter-1 associated on its own AE-ID's credential. */
const appWithInstance = async () => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await run(c, x);
  await run(c, command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }));
  await run(c, cmd.issueCredential('app-cred-1', APP, at(300), { purpose: 'application', owner: { kind: 'app', id: APP } }));
  await run(c, cmd.provisionCredential('app-cred-1'));
  await run(c, command('enrolApplication', { appId: APP, credentialId: 'app-cred-1' }, { actor: operator }));
  await instance(c, 'Cbill1');
  await c.settle();
  return c;
};
const instance = async (c: Credence, ae: string) => {
  await run(c, cmd.issueCredential(`${ae}-cred`, 'meter-1', at(200), { owner: { kind: 'ae', id: ae, appId: APP } }));
  await run(c, cmd.provisionCredential(`${ae}-cred`));
  const registree = { kind: 'ae', id: ae, appId: APP };
  await run(c, command('configureAssociation', { associationId: `sa-${ae}`, nodeId: 'meter-1', credentialId: `${ae}-cred`, registree, registrarCseId: '/in-cse' }, { actor: operator }));
  await run(c, cmd.establishAssociation(`sa-${ae}`));
};

describe('dangling-associations lists an association left live under an ended node or App-ID, naming the parent and how it ended', () => {
  it('a revoked node: its established association is listed at the revocation, on its credential still provisioned', async () => {
    const c = await nodeWithAssociation();
    const revoked = await positionOf(c, command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.runner.catchUp('compliance');
    expect(ofRows(danglingAssociations(c.readModels))).toEqual([['sa-1', 'established', 'provisioned', 'node', 'meter-1', 'NodeRevoked', revoked]]);

    await c.settle();
    expect(danglingAssociations(c.readModels)).toEqual([]);
  });

  it("a node whose enrolment expired with its subscription: listed at the expiry", async () => {
    const c = await nodeWithAssociation();
    await run(c, command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator }));
    const expired = await positionOf(c, command('expireNodeEnrolment', { nodeId: 'meter-1', subscriptionId: 'sub-1' }, { actor: operator }));
    await c.runner.catchUp('compliance');
    expect(ofRows(danglingAssociations(c.readModels))).toEqual([['sa-1', 'established', 'provisioned', 'node', 'meter-1', 'NodeEnrolmentExpired', expired]]);
  });

  it("a revoked App-ID: its instance's association is listed at the App-ID's revocation", async () => {
    const c = await appWithInstance();
    const revoked = await positionOf(c, command('revokeApplication', { appId: APP, reason: 'keyCompromise' }, { actor: operator }));
    await c.runner.catchUp('compliance');
    expect(ofRows(danglingAssociations(c.readModels))).toEqual([['sa-Cbill1', 'established', 'provisioned', 'application', APP, 'ApplicationRevoked', revoked]]);

    await c.settle();
    expect(danglingAssociations(c.readModels)).toEqual([]);
  });

  it("an App-ID's ended enrolment: the associations made under it are listed, not one made after it was enrolled again", async () => {
    const c = await appWithInstance();
    await c.runner.stop();
    await run(c, cmd.revokeCredential('app-cred-1', 'keyCompromise'));
    // What the cascade records, by hand: its reaction to it (revoking the instances) is not run.
    const ended = await positionOf(c, command('endApplicationEnrolment', { appId: APP, credentialId: 'app-cred-1', reason: 'keyCompromise' }, { actor: operator }));
    await run(c, cmd.issueCredential('app-cred-2', APP, at(300), { purpose: 'application', owner: { kind: 'app', id: APP } }));
    await run(c, cmd.provisionCredential('app-cred-2'));
    await run(c, command('enrolApplication', { appId: APP, credentialId: 'app-cred-2' }, { actor: operator }));
    await instance(c, 'Cbill2');
    await c.runner.catchUp('compliance');
    expect(ofRows(danglingAssociations(c.readModels))).toEqual([
      ['sa-Cbill1', 'established', 'provisioned', 'application-enrolment', APP, 'ApplicationEnrolmentEnded', ended],
    ]);
  });

  it("still lists an ended credential's associations as before, naming the credential as the parent", async () => {
    const c = await nodeWithAssociation();
    const revoked = await positionOf(c, cmd.revokeCredential('cred-1', 'keyCompromise'));
    await c.runner.catchUp('compliance');
    expect(ofRows(danglingAssociations(c.readModels))).toEqual([['sa-1', 'established', 'revoked', 'credential', 'cred-1', 'CredentialRevoked', revoked]]);
  });

  it('pages one row at a time through an association under both an ended credential and an ended node, once per parent', async () => {
    const c = await nodeWithAssociation();
    const credentialRevoked = await positionOf(c, cmd.revokeCredential('cred-1', 'keyCompromise'));
    const nodeRevoked = await positionOf(c, command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.runner.catchUp('compliance');
    const pages: unknown[][] = [];
    const cursors: unknown[] = [];
    let after: string | undefined;
    for (let i = 0; i < 5; i++) {
      const params = COMPLIANCE_QUERIES['dangling-associations'].params.parse({ limit: '1', ...(after !== undefined ? { after } : {}) });
      const answer = answerQuery('dangling-associations', c.readModels, params, new Date(T0));
      pages.push(ofRows(answer.rows as readonly DanglingAssociationRow[]));
      cursors.push(answer.nextAfter);
      if (!answer.truncated) break;
      after = String(answer.nextAfter);
    }
    expect(pages).toEqual([
      [['sa-1', 'established', 'revoked', 'credential', 'cred-1', 'CredentialRevoked', credentialRevoked]],
      [['sa-1', 'established', 'revoked', 'node', 'meter-1', 'NodeRevoked', nodeRevoked]],
    ]);
    expect(cursors).toEqual([`${credentialRevoked}:sa-1`, undefined]);
  });

  it("names the parent in the CSV's last columns, after those a reader by index knows", () => {
    expect(csvColumnsOf('dangling-associations')).toEqual([
      'position', 'associationPosition', 'associationId', 'associationStatus', 'credentialId', 'credentialStatus', 'parent.kind', 'parent.id', 'parent.endedBy',
    ]);
  });

  it('rebuilds a read model version 10 built, which recorded no ending of a node or App-ID, from position 0', () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupCheckpoints(db);
    db.exec(`CREATE TABLE compliance_associations (association_id TEXT PRIMARY KEY, credential_id TEXT NOT NULL, node_id TEXT NOT NULL,
        status TEXT NOT NULL, status_position INTEGER NOT NULL, app_id TEXT, ae_id TEXT) WITHOUT ROWID;
      CREATE TABLE projection_schemas (name TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO projection_schemas VALUES ('compliance', 10);
      INSERT INTO compliance_associations VALUES ('sa-1', 'cred-1', 'meter-1', 'established', 9, NULL, NULL);`);
    writeCheckpoint(db, 'compliance', { position: 42n, occurredAt: '2026-12-06T20:45:39.000Z' });

    complianceProjection().setup(db);

    expect(db.prepare("SELECT version FROM projection_schemas WHERE name = 'compliance'").pluck().get()).toBe(12n);
    expect(readCheckpoint(db, 'compliance')).toBeUndefined();
    for (const table of ['compliance_associations', 'compliance_endings', 'compliance_association_configurations']) {
      expect(db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get(), table).toBe(0n);
    }
    db.close();
  });
});
