import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../domain/ports/event-store.ts';
import { replayAll } from '../projections/replay/index.ts';
import { replayInWorkers } from '../adapters/replay-workers/pool.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { credentialRevokedBetweenClaimAndAppend } from './support/fact-claims.ts';
import { at, cmd, establishedFleet, fixture, issueCredentialData } from './support/fleet.ts';
import { forge } from './replay.fixtures.ts';

describe('replay on worker threads over partitions of entities', () => {
  it('gives the verdict of the one-pass replay on a legal fleet', async () => {
    const { store } = await establishedFleet(12);
    const parallel = await replayInWorkers(store, { workers: 2 });
    expect(parallel.rounds).toBe(1);
    expect(parallel.replay).toEqual(await replayAll(store));
    expect(parallel.replay.findings).toEqual([]);
  }, 60_000);

  it('gives the same findings, in the same order, on a fleet with violations across partitions', async () => {
    const { engine, store } = await establishedFleet(8);
    // A fact entity refused by a guard over another entity: a credential issued to a node that was never registered.
    const orphan = await forge(store, 'credential-cred-x', 'CredentialIssued', issueCredentialData('cred-x', 'meter-404', { notBefore: at(0), notAfter: at(90) }) as JsonObject, at(2));
    // ...and events that lean on it: its provisioning, an association configured on it.
    const provision = await forge(store, 'credential-cred-x', 'CredentialProvisioned', { credentialId: 'cred-x', method: 'pre-provisioning' }, at(2));
    const configure = await forge(store, 'association-sa-x', 'AssociationConfigured', {
      associationId: 'sa-x', nodeId: 'meter-3', credentialId: 'cred-x', registree: { kind: 'cse', id: '/cse-meter-3' }, registrarCseId: '/in-cse',
    }, at(3));
    // An association established on a credential revoked before it; an unreadable event; an event after a final state.
    await engine.execute(cmd.configureAssociation('sa-9', 'cred-5', 'meter-5'));
    await engine.execute(cmd.revokeCredential('cred-5'));
    const late = await forge(store, 'association-sa-9', 'AssociationEstablished', { associationId: 'sa-9', expiresAt: at(20) }, at(4));
    const unreadable = await forge(store, 'node-meter-7', 'NodeRevoked', { nodeId: 'meter-7', reason: 'not-a-reason' }, at(4));

    const single = await replayAll(store);
    expect(single.findings.map((f) => f.position)).toEqual([orphan.position, provision.position, configure.position, late.position, unreadable.position]);
    const parallel = await replayInWorkers(store, { workers: 2 });
    // The first guess took the orphan credential as issued; the second pass refused it, so a second round was needed.
    expect(parallel.rounds).toBe(2);
    expect(parallel.replay).toEqual(single);
    const three = await replayInWorkers(store, { workers: 3 });
    expect(three.replay).toEqual(single);
  }, 60_000);

  it('judges a decision against its fact claims in the claimant\'s partition, as the one-pass replay does', async () => {
    // What EventStoreDB leaves (test/fact-claims.test.ts): the association claims the credential, the credential is
    // revoked, then the association's event lands. Legal, because it is judged against the credential at its claim.
    const store = openSqliteStore({ memory: true });
    await credentialRevokedBetweenClaimAndAppend(store);
    const single = await replayAll(store);
    expect(single.findings).toEqual([]);
    for (const workers of [2, 3, 4]) expect((await replayInWorkers(store, { workers })).replay).toEqual(single);
  }, 60_000);

  it('refuses a worker count it cannot use, naming the option', async () => {
    const { store } = fixture();
    await expect(replayInWorkers(store, { workers: 1 })).rejects.toThrow(/options\.workers: 1 is not an integer from 2 to 64/);
  });
});
