import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { main } from '../bin/cli.ts';
import { at, cmd, establishOne, fixture } from './support/fleet.ts';
import { dataDirs, forge } from './replay.fixtures.ts';
import { capture } from './support/cli.ts';


describe('auditor replay', () => {
  it('returns the state after each stored event and a clean verdict for an engine-written history', async () => {
    const { engine, store } = fixture();
    await establishOne(engine);
    const result = await replayEntity(store, 'association-sa-1');
    expect(result.steps.map((s) => [s.type, s.state])).toEqual([
      ['AssociationConfigured', 'initialized'],
      ['AssociationEstablished', 'associated'],
    ]);
    expect(result.verdict).toEqual({ ok: true });
  });

  it('flags an event appended directly after a final state, at its position', async () => {
    const { engine, store } = fixture();
    await establishOne(engine);
    await engine.execute(cmd.revokeCredential());
    const { position } = await forge(store, 'credential-cred-1', 'CredentialProvisioned', { credentialId: 'cred-1', method: 'pre-provisioning' }, at(2));
    const result = await replayEntity(store, 'credential-cred-1');
    expect(result.verdict.ok).toBe(false);
    expect(result.verdict.ok ? [] : result.verdict.findings).toEqual([
      expect.objectContaining({ position, revision: 3n, type: 'CredentialProvisioned', reason: expect.stringContaining('state revoked') }),
    ]);
    expect(result.state).toBe('revoked');
  });

  it('flags a cross-entity violation: an association established on a credential revoked before it', async () => {
    const { engine, store } = fixture();
    await establishOne(engine);
    await engine.execute(cmd.configureAssociation('sa-2'));
    await engine.execute(cmd.revokeCredential());
    const { position } = await forge(store, 'association-sa-2', 'AssociationEstablished', { associationId: 'sa-2', expiresAt: at(20) }, at(1));
    const one = await replayEntity(store, 'association-sa-2');
    expect(one.verdict.ok ? [] : one.verdict.findings.map((f) => [f.position, f.reason])).toEqual([
      [position, expect.stringMatching(/^AssociationEstablished refused in state initialized by rule credentialUsable: association sa-2 .*; credential cred-1 is revoked$/)],
    ]);
    const all = await replayAll(store);
    expect(all.findings.map((f) => [f.streamId, f.position])).toEqual([['association-sa-2', position]]);
  });

  it('names the broken dependency when a guard fails because another entity\'s history is broken', async () => {
    const { engine, store } = fixture();
    await establishOne(engine);
    await engine.execute(cmd.revokeCredential());
    // The credential's own history breaks (provisioned after revocation), then an association is configured on it.
    await forge(store, 'credential-cred-1', 'CredentialProvisioned', { credentialId: 'cred-1', method: 'pre-provisioning' }, at(2));
    const { position } = await forge(store, 'association-sa-9', 'AssociationConfigured', {
      associationId: 'sa-9', nodeId: 'meter-1', credentialId: 'cred-1', registree: { kind: 'cse', id: '/cse-meter-1' }, registrarCseId: '/in-cse',
    }, at(3));
    const one = await replayEntity(store, 'association-sa-9');
    const finding = one.verdict.ok ? undefined : one.verdict.findings[0];
    expect(finding?.position).toBe(position);
    expect(finding?.reason).toMatch(/by rule credentialUsable: association sa-9 .*; credential cred-1 is revoked; it depends on credential-cred-1 has a broken history at position \d+/);
  });

  it('flags a lifetime that outlives the credential (seed 003, 11.3.2)', async () => {
    const { engine, store } = fixture();
    await establishOne(engine);
    await engine.execute(cmd.configureAssociation('sa-2'));
    const { position } = await forge(store, 'association-sa-2', 'AssociationEstablished', { associationId: 'sa-2', expiresAt: at(200) }, at(1));
    const all = await replayAll(store);
    expect(all.findings).toEqual([expect.objectContaining({ position, reason: expect.stringContaining('lifetimeShorterThanCredential') })]);
  });

  it('flags an event addressed to another entity than the stream it is stored in', async () => {
    const { engine, store } = fixture();
    await establishOne(engine);
    const { position } = await forge(store, 'credential-cred-1', 'CredentialRevoked', { credentialId: 'cred-9', reason: 'keyCompromise' }, at(1));
    const one = await replayEntity(store, 'credential-cred-1');
    expect(one.state).toBe('enrolled');
    expect(one.verdict.ok ? [] : one.verdict.findings.map((f) => [f.position, f.reason])).toEqual([
      [position, 'CredentialRevoked is addressed to cred-9 but stored in credential-cred-1'],
    ]);
    expect((await replayAll(store)).findings.map((f) => f.position)).toEqual([position]);
  });

  it('flags an unreadable stored event without stopping', async () => {
    const { engine, store } = fixture();
    await establishOne(engine);
    const { position } = await forge(store, 'node-meter-1', 'NodeRevoked', { nodeId: 'meter-1', reason: 'not-a-reason' }, at(1));
    const all = await replayAll(store);
    expect(all.findings).toEqual([expect.objectContaining({ position, reason: expect.stringMatching(/^unreadable: data: reason/) })]);
    expect(all.kinds.node).toEqual({ entities: 1, events: 3, states: { enrolled: 1 } });
    expect(all.kinds.association.states).toEqual({ associated: 1 });
  });
});

describe('credence replay and history on a data folder', () => {
  const dataDir = dataDirs('credence-replay-');

  it('prints per-kind counts and exits 0 on a legal history, 1 with the broken position otherwise', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    const { engine } = fixture(store);
    await establishOne(engine);
    const ok = capture();
    expect(await main(['replay', '--data', dir], ok.io)).toBe(0);
    expect(ok.out.join('\n')).toMatch(/association\s+1 entities\s+2 events\s+associated 1/);
    expect(ok.out.at(-1)).toBe('verdict: every stored transition is legal');

    await engine.execute(cmd.revokeAssociation());
    const { position } = await forge(store, 'association-sa-1', 'AssociationExpired', { associationId: 'sa-1' }, at(40));
    await store.close();
    const broken = capture();
    expect(await main(['replay', '--data', dir, '--json'], broken.io)).toBe(1);
    const report = JSON.parse(broken.out.join('\n'));
    expect(report.ok).toBe(false);
    expect(report.findings[0]).toMatchObject({ streamId: 'association-sa-1', position: String(position) });
  });

  it('history prints one timeline; a bad stream argument is a usage error', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    await establishOne(fixture(store).engine);
    await store.close();
    const h = capture();
    expect(await main(['history', 'credential-cred-1', '--data', dir], h.io)).toBe(0);
    expect(h.out[0]).toBe('credential-cred-1: enrolled');
    expect(h.out.slice(1).map((l) => l.split(/\s+/)[4])).toEqual(['CredentialIssued', 'CredentialProvisioned']);
    const bad = capture();
    expect(await main(['history', 'not a stream', '--data', dir], bad.io)).toBe(2);
    expect(bad.err.join('\n')).toContain('stream must be <kind>-<id>');
    const missing = capture();
    expect(await main(['replay', '--data', join(dir, 'nope')], missing.io)).toBe(2);
    expect(missing.err.join('\n')).toContain('no event store');
  });
});
