import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/index.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { stateAt } from '../projections/audit/index.ts';
import { forge } from './replay.fixtures.ts';
import { claimingStore, standInForEventStoreDb } from './support/fact-claims.ts';
import { command } from '../domain/commands/index.ts';
import { at, cmd, issueCredentialData, operator, T0 } from './support/fleet.ts';

/*
 * Found in review of the replay. (1) An event written later next to an append, under its command id, was read as
 * part of that append and judged against its old fact claims, a revocation in between unseen. (2) The replay of one
 * entity honoured a claim its claimant had left behind before appending another command. (3) It rebuilt the facts
 * it read without their own cross-entity guards, so a fact whose history the machines refuse vouched for a decision.
 */

const verdicts = async (store: EventStore, streamId: string) => ({
  oneThread: (await replayAll(store)).findings.map((f) => [f.streamId, f.position]),
  workers: (await verifyFleet(store, { workers: 2 })).replay.findings.map((f) => [f.streamId, f.position]),
  entity: (await replayEntity(store, streamId)).verdict,
});

/** sa-1 configured through a claim on cred-1, cred-1 revoked between the claim and the append: legal. */
const configuredAcrossARevocation = async () => {
  const store = openSqliteStore({ memory: true });
  const clock = new FakeClock(T0);
  const plain = await upToProvisioned(store, clock);
  await createEngine({ store: claimingStore(store, async () => void (await plain.execute(cmd.revokeCredential()))), clock }).execute(cmd.configureAssociation());
  return { store, configured: (await store.readStream('association-sa-1'))[0]! };
};

const upToProvisioned = async (store: EventStore, clock: FakeClock) => {
  const plain = createEngine({ store, clock });
  for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential()]) await plain.execute(c);
  return plain;
};

describe('an event next to an append under its command id', () => {
  it('is never part of it: a command is one event, so a second under its id is a command recorded again', async () => {
    // Legal: sa-1 claims cred-1, cred-1 is revoked, sa-1's configuration lands (judged at its claim).
    const { store, configured } = await configuredAcrossARevocation();
    expect(await verdicts(store, 'association-sa-1')).toEqual({ oneThread: [], workers: [], entity: { ok: true } });
    // Forged at the very next position, under the configuration's command id, days later: establishing on the revoked credential.
    const { position } = await forge(store, 'association-sa-1', 'AssociationEstablished', { associationId: 'sa-1', expiresAt: at(30) }, at(5), configured.metadata['commandId'] as string);
    expect(position).toBe(configured.position + 1n);
    const found = await verdicts(store, 'association-sa-1');
    expect(found.oneThread).toEqual([['association-sa-1', position]]);
    expect(found.workers).toEqual([['association-sa-1', position]]);
    expect(found.entity).toMatchObject({ ok: false, findings: [{ position, reason: expect.stringContaining('recorded by an earlier append of this stream') }] });
    await store.close();
  });

  it('is a command recorded again even with the first event\'s metadata copied (found in review of the first fix)', async () => {
    const { store, configured } = await configuredAcrossARevocation();
    const { position } = await store.appendToStream(
      'association-sa-1',
      [{ id: randomUUID(), type: 'AssociationEstablished', data: { associationId: 'sa-1', expiresAt: at(30) }, metadata: configured.metadata }],
      { expectedRevision: ExpectedRevision.after(configured.revision) },
    );
    expect(position).toBe(configured.position + 1n);
    const found = await verdicts(store, 'association-sa-1');
    expect(found.oneThread).toEqual([['association-sa-1', position]]);
    expect(found.workers).toEqual([['association-sa-1', position]]);
    expect(found.entity).toMatchObject({ ok: false, findings: [{ position }] });
    await store.close();
  });
});

describe('the replay of one entity', () => {
  it('takes no claim its claimant left behind before appending another command', async () => {
    const store = standInForEventStoreDb(openSqliteStore({ memory: true }));
    const clock = new FakeClock(T0);
    const plain = await upToProvisioned(store, clock);
    // A claim for sa-1 under command X while cred-1 is live; then sa-1 configured by another command; cred-1 revoked.
    const head = (await store.readStream('credential-cred-1')).at(-1)!.revision;
    const commandX = randomUUID();
    await store.appendToStream('credential-cred-1', [{ id: randomUUID(), type: FACT_CLAIM_TYPE, data: { claimant: 'association-sa-1', commandId: commandX }, metadata: {} }], {
      expectedRevision: ExpectedRevision.exact(head),
    });
    await plain.execute(cmd.configureAssociation());
    clock.set(new Date(at(3)));
    await plain.execute(cmd.revokeCredential());
    const { position } = await forge(store, 'association-sa-1', 'AssociationEstablished', { associationId: 'sa-1', expiresAt: at(30) }, at(4), commandX);
    const found = await verdicts(store, 'association-sa-1');
    expect(found.oneThread).toEqual([['association-sa-1', position]]);
    expect(found.entity).toMatchObject({ ok: false, findings: [{ position, reason: expect.stringContaining('credentialUsable') }] });
    await store.close();
  });

  it('names a fact whose own history its machine refuses, though a trusted rebuild of it looks usable', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const plain = await upToProvisioned(store, clock);
    // cred-2 claims a predecessor that never existed (refused by predecessorIsLive), and is then provisioned.
    await forge(store, 'credential-cred-2', 'CredentialIssued', { ...issueCredentialData('cred-2', 'meter-1', { notBefore: T0, notAfter: at(90) }), predecessorId: 'ghost' }, T0);
    await forge(store, 'credential-cred-2', 'CredentialProvisioned', { credentialId: 'cred-2', method: 'pre-provisioning' }, T0);
    await plain.execute(cmd.configureAssociation('sa-2', 'cred-2'));
    const configured = (await store.readStream('association-sa-2'))[0]!;
    const found = await verdicts(store, 'association-sa-2');
    expect(found.oneThread).toContainEqual(['association-sa-2', configured.position]);
    expect(found.entity).toMatchObject({
      ok: false,
      findings: [{ position: configured.position, reason: expect.stringMatching(/credentialUsable: .*credential cred-2 is not recorded; it depends on credential-cred-2 has a broken history at position \d+: .*predecessorIsLive: .*predecessor ghost is not recorded/) }],
    });
    await store.close();
  });
});

describe('the replay of one entity whose facts have long histories', () => {
  it('replays each fact stream once, not once per position it is read at (found in review: some R^3 reads)', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = await upToProvisioned(store, clock);
    const R = 20;
    for (let i = 0; i < R; i++) {
      await engine.execute(cmd.issueCredential(`succ-${i}`, 'meter-1', at(90), { predecessorId: 'cred-1' }));
      await engine.execute(command('startCredentialRotation', { credentialId: 'cred-1', successorId: `succ-${i}`, overlapEndsAt: at(10) }, { actor: operator }));
      await engine.execute(command('abandonCredentialRotation', { credentialId: 'cred-1', successorId: `succ-${i}` }, { actor: operator }));
    }
    let reads = 0;
    const counted = Object.assign(Object.create(store) as typeof store, {
      readStream: (...args: Parameters<typeof store.readStream>) => ((reads += 1), store.readStream(...args)),
    });
    expect((await replayEntity(counted, 'credential-cred-1')).verdict).toEqual({ ok: true });
    // Each of its 2 + 3R events reads its facts' streams, and each fact stream is judged once: linear in R.
    expect(reads).toBeLessThan(12 * R);
    await store.close();
  });
});

describe('a fact claim in the embedded store\'s log', () => {
  it('is a finding, and vouches for nothing: the embedded store checks facts in its own transaction and writes none', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const plain = await upToProvisioned(store, clock);
    // Planted while cred-1 is live, for an association that does not exist yet, under a command id chosen for later.
    const commandZ = randomUUID();
    const head = (await store.readStream('credential-cred-1')).at(-1)!.revision;
    const { position: planted } = await store.appendToStream(
      'credential-cred-1',
      [{ id: randomUUID(), type: FACT_CLAIM_TYPE, data: { claimant: 'association-evil', commandId: commandZ }, metadata: {} }],
      { expectedRevision: ExpectedRevision.exact(head) },
    );
    clock.set(new Date(at(3)));
    await plain.execute(cmd.revokeCredential());
    const { position: forged } = await forge(store, 'association-evil', 'AssociationConfigured', {
      associationId: 'evil', nodeId: 'meter-1', credentialId: 'cred-1', registree: { kind: 'cse', id: '/cse-meter-1' }, registrarCseId: '/in-cse',
    }, at(30), commandZ);
    const found = await verdicts(store, 'association-evil');
    expect(found.oneThread).toEqual([['credential-cred-1', planted], ['association-evil', forged]]);
    expect(found.workers).toEqual(found.oneThread);
    expect(found.entity).toMatchObject({ ok: false, findings: [{ position: forged, reason: expect.stringContaining('credentialUsable') }] });
    expect((await replayEntity(store, 'credential-cred-1')).verdict).toMatchObject({ ok: false, findings: [{ position: planted, reason: expect.stringContaining('a fact claim, which this store never writes') }] });
    await store.close();
  });
});

describe('the replay of one entity, facts in a cycle', () => {
  it('judges a fact read back in a cycle as the fleet replay does (found in review of the shared judgement)', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    const app = (type: string, data: Record<string, unknown>) => engine.execute(command(type as never, data as never, { actor: operator }));
    await app('registerApplication', { appId: 'Rapp1', name: 'metering', provider: 'City Utilities' });
    const appCredential = (id: string, extra: Record<string, unknown> = {}) => ({
      ...issueCredentialData(id, 'meter-1', { notBefore: T0, notAfter: at(90) }), purpose: 'application', owner: { kind: 'app', id: 'Rapp1' }, ...extra,
    });
    await app('issueCredential', appCredential('cred-X'));
    await app('provisionCredential', { credentialId: 'cred-X', method: 'pre-provisioning' });
    await app('enrolApplication', { appId: 'Rapp1', credentialId: 'cred-X' });
    // cred-X's history breaks (a rotation abandoned that never started), then cred-Y names it as predecessor.
    const { position: broken } = await forge(store, 'credential-cred-X', 'CredentialRotationAbandoned', { credentialId: 'cred-X', successorId: 'ghost' }, at(1));
    await app('issueCredential', appCredential('cred-Y', { predecessorId: 'cred-X' }));
    await app('provisionCredential', { credentialId: 'cred-Y', method: 'pre-provisioning' });
    await app('startCredentialRotation', { credentialId: 'cred-X', successorId: 'cred-Y', overlapEndsAt: at(10) });
    await app('enrolApplication', { appId: 'Rapp1', credentialId: 'cred-Y', replaces: 'cred-X' });
    // Judging cred-Y reads cred-X, whose judging reads cred-Y back: cred-Y's verdict there assumed cred-X sound. Each
    // fact stands where its accepted events leave it, as in the fleet replay: only cred-X's forged event is a finding.
    const fleet = await replayAll(store);
    expect(fleet.findings.map((f) => [f.streamId, f.position])).toEqual([['credential-cred-X', broken]]);
    await expectEveryEntityAsTheFleet(store, fleet, ['credential-cred-Y', 'application-Rapp1', 'credential-cred-X']);
    await store.close();
  });

  it('answers a fact read back in a cycle from its replay, not from a rebuild that skips its guards (found in review)', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-w'), cmd.provisionCredential('cred-w')]) await engine.execute(c);
    const issued = (id: string, predecessorId: string) => ({ ...issueCredentialData(id, 'meter-1', { notBefore: T0, notAfter: at(90) }), predecessorId });
    await forge(store, 'credential-cred-x', 'CredentialIssued', issued('cred-x', 'cred-w'), T0);
    await forge(store, 'credential-cred-x', 'CredentialProvisioned', { credentialId: 'cred-x', method: 'pre-provisioning' }, T0);
    await forge(store, 'credential-cred-w', 'CredentialRotationStarted', { credentialId: 'cred-w', successorId: 'cred-x', overlapEndsAt: at(10) }, T0);
    // Refused (before its notAfter): a rebuild that skips guards failed on it, and took cred-x as absent.
    const { position: early } = await forge(store, 'credential-cred-x', 'CredentialExpired', { credentialId: 'cred-x' }, at(1));
    await forge(store, 'credential-cred-y', 'CredentialIssued', issued('cred-y', 'cred-x'), at(1));
    await forge(store, 'credential-cred-x', 'CredentialRotationStarted', { credentialId: 'cred-x', successorId: 'cred-y', overlapEndsAt: at(20) }, at(1));
    await forge(store, 'credential-cred-x', 'CredentialRevoked', { credentialId: 'cred-x', reason: 'superseded' }, at(2));
    // cred-x was superseded in turn by cred-y, which the node does not hold: abandoning cred-w's rotation is refused.
    const { position: abandoned } = await forge(store, 'credential-cred-w', 'CredentialRotationAbandoned', { credentialId: 'cred-w', successorId: 'cred-x' }, at(2));
    const fleet = await replayAll(store);
    expect(fleet.findings.map((f) => [f.streamId, f.position])).toEqual(expect.arrayContaining([['credential-cred-x', early], ['credential-cred-w', abandoned]]));
    await expectEveryEntityAsTheFleet(store, fleet, ['credential-cred-w', 'credential-cred-x', 'credential-cred-y']);
    await store.close();
  });
});

describe('the replay of one entity, a cycle of bootstrap credentials through a successor', () => {
  it('finds what the fleet replay finds (found in review: a forged provisioning passed on a judgement kept from a rebuild)', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-w'), cmd.issueCredential('cred-x')]) await engine.execute(c);
    const remote = (id: string, bootstrap: string) => ({ credentialId: id, method: 'remote-provisioning', bootstrapCredentialId: bootstrap });
    // Each provisioned on the other (a cycle), then a successor of cred-w, then both on the successor.
    await forge(store, 'credential-cred-x', 'CredentialProvisioned', remote('cred-x', 'cred-w'), T0);
    await forge(store, 'credential-cred-w', 'CredentialProvisioned', remote('cred-w', 'cred-x'), T0);
    await forge(store, 'credential-cred-z', 'CredentialIssued', { ...issueCredentialData('cred-z', 'meter-1', { notBefore: T0, notAfter: at(90) }), predecessorId: 'cred-w' }, T0);
    await forge(store, 'credential-cred-z', 'CredentialProvisioned', { credentialId: 'cred-z', method: 'pre-provisioning' }, T0);
    await forge(store, 'credential-cred-w', 'CredentialProvisioned', remote('cred-w', 'cred-z'), T0);
    await forge(store, 'credential-cred-x', 'CredentialProvisioned', remote('cred-x', 'cred-z'), T0);
    const fleet = await replayAll(store);
    expect(fleet.findings.filter((f) => f.streamId === 'credential-cred-x')).toHaveLength(2);
    await expectEveryEntityAsTheFleet(store, fleet, ['credential-cred-x', 'credential-cred-w', 'credential-cred-z']);
    expect((await stateAt(store, 'credential-cred-x', new Date(at(1)))).state).toBe('initialized');
    await store.close();
  });
});

describe('the replay of one entity, an event accepted on a broken fact', () => {
  it('is accepted, as the fleet replay accepts it, and its step names the fact whose history is broken', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(c);
    // Refused: the subscription is active.
    const { position: planted } = await forge(store, 'node-meter-1', 'NodeEnrolmentExpired', { nodeId: 'meter-1', subscriptionId: 'sub-1' }, T0);
    // Legal as the node's accepted events leave it (the engine, which trusts the stored history, would refuse it).
    await forge(store, 'credential-cred-1', 'CredentialIssued', issueCredentialData('cred-1', 'meter-1', { notBefore: T0, notAfter: at(90) }), T0);
    const fleet = await replayAll(store);
    expect(fleet.findings.map((f) => [f.streamId, f.position])).toEqual([['node-meter-1', planted]]);
    const credential = await replayEntity(store, 'credential-cred-1');
    expect(credential.verdict).toEqual({ ok: true });
    expect(credential.steps[0]).toMatchObject({ type: 'CredentialIssued', accepted: true, brokenFacts: [expect.stringMatching(new RegExp(`^node-meter-1 has a broken history at position ${planted}: `))] });
    await store.close();
  });
});

/** The replay of each one entity finds what the fleet replay finds in its stream, no more and no less. */
const expectEveryEntityAsTheFleet = async (store: EventStore, fleet: Awaited<ReturnType<typeof replayAll>>, streamIds: readonly string[]) => {
  for (const streamId of streamIds) {
    const one = await replayEntity(store, streamId);
    expect(one.verdict.ok ? [] : one.verdict.findings.map((f) => f.position), streamId).toEqual(fleet.findings.filter((f) => f.streamId === streamId).map((f) => f.position));
  }
};
