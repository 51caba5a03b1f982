import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { lifecycleEvents$ } from '../projections/streams/index.ts';
import { collector } from './integrator-streams.fixtures.ts';
import { claimingStore } from './support/fact-claims.ts';
import { cmd, T0 } from './support/fleet.ts';

const interleaved = async () => {
  const store = openSqliteStore({ memory: true });
  const clock = new FakeClock(T0);
  const plain = createEngine({ store, clock });
  for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential(), cmd.configureAssociation()]) {
    await plain.execute(c);
  }
  // The revocation is decided after the association's claim on the credential (it reads the claim's revision).
  const claiming = createEngine({ store: claimingStore(store, async () => void (await createEngine({ store, clock }).execute(cmd.revokeCredential()))), clock });
  await claiming.execute(cmd.establishAssociation());
  return store;
};

describe('fact claims (domain/fact-claims.ts): a decision judged against its facts at its claims', () => {
  it('replay accepts an association whose credential was revoked between its claim and its append', async () => {
    const store = await interleaved();
    const types = (await store.readStream('credential-cred-1')).map((r) => r.type);
    expect(types).toEqual(['CredentialIssued', 'CredentialProvisioned', FACT_CLAIM_TYPE, 'CredentialRevoked']);
    const association = await store.readStream('association-sa-1');
    expect(association.at(-1)?.position).toBeGreaterThan((await store.readStream('credential-cred-1')).at(-1)!.position);
    expect((await replayAll(store)).findings).toEqual([]);
    expect((await replayEntity(store, 'association-sa-1')).verdict).toEqual({ ok: true });
    expect((await replayEntity(store, 'credential-cred-1')).steps.map((s) => s.type)).toEqual(['CredentialIssued', 'CredentialProvisioned', 'CredentialRevoked']);
  });

  it('without the claim the same order is a stored refusal that replay reports', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential(), cmd.configureAssociation(), cmd.establishAssociation()]) {
      await engine.execute(c);
    }
    // Move the revocation before the association's event: what a store that checked no fact could leave.
    const [established] = (await store.readStream('association-sa-1')).slice(-1);
    const late = openSqliteStore({ memory: true });
    for await (const record of store.readAll()) {
      if (record.id === established!.id) continue;
      await late.appendToStream(record.streamId, [record], { expectedRevision: ExpectedRevision.any });
    }
    await createEngine({ store: late, clock: new FakeClock(T0) }).execute(cmd.revokeCredential());
    await late.appendToStream('association-sa-1', [established!], { expectedRevision: ExpectedRevision.any });
    expect((await replayAll(late)).findings.map((f) => f.reason)).toEqual([expect.stringContaining('by rule credentialUsable')]);
  });

  it('integrator streams and entity rebuilds pass over claims', async () => {
    const store = await interleaved();
    const credentials = collector(lifecycleEvents$(store, { kinds: ['credential'] }));
    await credentials.until(3);
    credentials.subscription.unsubscribe();
    expect(credentials.values.map((e) => e.event.type)).toEqual(['CredentialIssued', 'CredentialProvisioned', 'CredentialRevoked']);
    const entity = await createEngine({ store, clock: new FakeClock(T0) }).entity('credential', 'cred-1');
    expect([entity.events.length, entity.revision]).toEqual([3, 3n]);
  });
});
