import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { at, cmd, issueCredentialData, placeholderKey, T0 } from './support/fleet.ts';

/*
 * SER-010 (review 201, finding 4). Replay judges keyNeverCertified against the issues it recorded. When the first
 * issue of a key in the log was itself refused (its node never existed), the key's holder is the next issue replay
 * recorded: the one entity's replay (`credence history`, `state --at`) must name it as the fleet replay does, not pass
 * a later issue because the store's first issuer stands unrecorded.
 */
const key = placeholderKey('a key first issued to a node that never existed');
const issued = (credentialId: string, nodeId: string) => ({ ...issueCredentialData(credentialId, nodeId, { notBefore: T0, notAfter: at(90) }), ...key });

/** cred-a on `key` for a node never registered, then, as an earlier version stored them, cred-b and cred-c on it. */
const storeOfThree = async (store: EventStore): Promise<void> => {
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.createSubscription(), cmd.registerNode('meter-2'), cmd.registerNode('meter-3'), cmd.enrolNode('meter-2'), cmd.enrolNode('meter-3')]) {
    await engine.execute(c);
  }
  await forge(store, 'credential-cred-a', 'CredentialIssued', issued('cred-a', 'ghost'), T0);
  await forge(store, 'credential-cred-b', 'CredentialIssued', issued('cred-b', 'meter-2'), T0);
  await forge(store, 'credential-cred-c', 'CredentialIssued', issued('cred-c', 'meter-3'), T0);
};

describe.each(embeddedAndStandInStores())('a key whose first issue replay refused, on %s', (_, open) => {
  it('is held by the next recorded issue in the entity replay as in the fleet replay', async () => {
    const store = await open();
    await storeOfThree(store);
    const fleet = await replayAll(store);
    const flagged = new Set(fleet.findings.map((f) => f.streamId));
    expect(flagged).toEqual(new Set(['credential-cred-a', 'credential-cred-c']));
    const onC = fleet.findings.find((f) => f.streamId === 'credential-cred-c')!;
    expect(onC.rule).toBe('keyNeverCertified');
    for (const streamId of ['credential-cred-a', 'credential-cred-b', 'credential-cred-c']) {
      expect((await replayEntity(store, streamId)).verdict.ok, streamId).toBe(!flagged.has(streamId));
    }
    const entity = await replayEntity(store, 'credential-cred-c');
    expect(entity.steps[0]!.reason).toContain('by rule keyNeverCertified');
    expect(entity.steps[0]!.reason).toContain('credential cred-b was issued on');
    await store.close();
  }, 60_000);
});
