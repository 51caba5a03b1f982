import { randomUUID } from 'node:crypto';
import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { createEngine } from '../../adapters/engine/index.ts';
import { FACT_CLAIM_TYPE } from '../../domain/fact-claims.ts';
import { ExpectedRevision, type EventStore } from '../../domain/ports/event-store.ts';
import { cmd, T0 } from './fleet.ts';

/**
 * The embedded store as a stand-in for EventStoreDB in tests of fact claims: it stores the claims written to it, and
 * replay judges decisions against them instead of flagging them as foreign (projections/replay/foreign-claims.ts).
 */
export const standInForEventStoreDb = <S extends EventStore>(store: S): S =>
  Object.defineProperty(store, 'factChecksWriteNothing', { value: undefined, configurable: true });

/**
 * What a store without conditions across streams (EventStoreDB) leaves: a decision claims its facts, then a change
 * of a fact lands, then the decision's own events. Emulated deterministically over the embedded store: the
 * wrapper claims like the EventStoreDB adapter and runs `between` after the claims, before the decision's append.
 */
export const claimingStore = (inner: EventStore, between: () => Promise<void>): EventStore =>
  Object.assign(Object.create(standInForEventStoreDb(inner)) as EventStore, {
    appendToStream: async (...[streamId, events, options]: Parameters<EventStore['appendToStream']>) => {
      const { facts = [], ...rest } = options;
      for (const fact of facts) {
        const data = { claimant: streamId, commandId: options.commandId ?? randomUUID() };
        await inner.appendToStream(fact.streamId, [{ id: randomUUID(), type: FACT_CLAIM_TYPE, data, metadata: {} }], {
          expectedRevision: ExpectedRevision.after(fact.revision),
        });
      }
      if (facts.length > 0) await between();
      return inner.appendToStream(streamId, events, rest);
    },
  });

/**
 * Over `store`: meter-1 up to a configured association sa-1 on cred-1, then sa-1 established through a claiming
 * store, cred-1 revoked (by the engine that recorded the rest) between sa-1's claim on it and sa-1's append.
 * Legal, because the association is judged against the credential at its claim.
 */
export const credentialRevokedBetweenClaimAndAppend = async (store: EventStore): Promise<void> => {
  const clock = new FakeClock(T0);
  const plain = createEngine({ store, clock });
  for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential(), cmd.configureAssociation()]) {
    await plain.execute(c);
  }
  const claiming = claimingStore(store, async () => void (await plain.execute(cmd.revokeCredential())));
  await createEngine({ store: claiming, clock }).execute(cmd.establishAssociation());
};
