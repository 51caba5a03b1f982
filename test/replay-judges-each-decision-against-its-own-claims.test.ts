import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { claimingStore } from './support/fact-claims.ts';
import { cmd, T0 } from './support/fleet.ts';

/*
 * Found in review (the fact-claim path of EventStoreDB): the fleet replay kept one set of claims per claimant, the
 * latest command's. A decision X that claimed a credential, followed by another command Y's claim for the same
 * claimant (a decision that crashed before appending, or lost its race), then a revocation, then X's event: the
 * fleet replay judged X without its claims, against the revoked credential, and reported a legal history as broken,
 * while the replay of the one entity accepted it. Claims are now kept per command.
 */
describe('the fleet replay of a decision made on fact claims', () => {
  it('judges it against its own claims, though another command claimed for the same claimant after it', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const plain = createEngine({ store, clock });
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential(), cmd.configureAssociation()]) {
      await plain.execute(c);
    }
    const between = async (): Promise<void> => {
      const head = (await store.readStream('credential-cred-1')).at(-1)!.revision;
      // Y: another decision for association-sa-1 claims cred-1 after X, and never appends.
      await store.appendToStream(
        'credential-cred-1',
        [{ id: randomUUID(), type: FACT_CLAIM_TYPE, data: { claimant: 'association-sa-1', commandId: 'command-Y' }, metadata: {} }],
        { expectedRevision: ExpectedRevision.exact(head) },
      );
      await plain.execute(cmd.revokeCredential());
    };
    await createEngine({ store: claimingStore(store, between), clock }).execute(cmd.establishAssociation());
    expect((await replayEntity(store, 'association-sa-1')).verdict).toEqual({ ok: true });
    expect((await replayAll(store)).findings).toEqual([]);
    await store.close();
  });
});
