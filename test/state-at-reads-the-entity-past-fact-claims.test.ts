import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { stateAt } from '../projections/audit/index.ts';
import { claimingStore, standInForEventStoreDb } from './support/fact-claims.ts';
import { at, cmd, T0 } from './support/fleet.ts';

/*
 * Found in review: the state of an entity at an instant took its context from as many stored records as the replay
 * had steps, and a fact claim (EventStoreDB's way of committing a decision against a fact) is a record but no step.
 * A credential claimed by an association's configuration, then revoked, showed as revoked with the context of before
 * its revocation (no reason).
 */
describe('the state of an entity at an instant', () => {
  it('takes its context through the last event replayed, though fact claims sit among its records', async () => {
    const store = standInForEventStoreDb(openSqliteStore({ memory: true }));
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential()]) await engine.execute(c);
    await createEngine({ store: claimingStore(store, async () => {}), clock }).execute(cmd.configureAssociation());
    clock.set(at(1));
    await engine.execute(cmd.revokeCredential());
    expect((await store.readStream('credential-cred-1')).map((r) => r.type)).toEqual(['CredentialIssued', 'CredentialProvisioned', FACT_CLAIM_TYPE, 'CredentialRevoked']);

    const later = await stateAt(store, 'credential-cred-1', new Date(at(10)));
    expect(later).toMatchObject({ state: 'revoked', verdict: { ok: true }, asOf: { type: 'CredentialRevoked' }, context: { revocationReason: 'keyCompromise' } });
    const before = await stateAt(store, 'credential-cred-1', new Date(at(0.5)));
    expect(before).toMatchObject({ state: 'enrolled', asOf: { type: 'CredentialProvisioned' } });
    expect(before.context).not.toHaveProperty('revocationReason');
    await store.close();
  });
});
