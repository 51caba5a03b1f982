/**
 * Review 405 F2 (a regression of review 400 F2): the sweep of pending keys had no per-binding error handling. One
 * pending PSK copy whose settling threw (the Secure Environment failing to describe it, an entity load failing, a
 * refused revocation) left every later binding unswept, never reached the key pairs' cut runs, and stopped
 * `Credence.tick` before the shredder's retries: at every tick, for as long as that one binding kept failing. Each
 * binding and each key pair's run is now settled on its own, the failures reported once at the end, and the tick
 * still runs the shredder's retries before it reports them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EnrolmentEndpoint, Infrastructure } from '../adapters/protocols/procedures/index.ts';
import { ENROLMENT_SESSION_TIMEOUT_SECONDS } from '../adapters/protocols/procedures/cut-provisioning.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { streamIdOf } from '../domain/streams.ts';
import { delivered, restartableWorld, type RestartableWorld } from './support/restartable-world.ts';

let world: RestartableWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const FAILING = 'meter-1-svc';
const CUT = 'meter-2-svc';
const KEY_PAIR_RUN = 'meter-3-svc';
const HSM_FAILURE = 'HSM: attribute read failed';

/**
 * `nodeId`'s psk256 run of `credentialId` over the endpoint, its `provisionCredential` append failing with a plain
 * Error (an outcome unknown), `appended` saying whether the event was in fact stored before the failure; the pending
 * PSK copy's handle.
 */
const provisioningCutAtItsSecondAppend = async (w: RestartableWorld, nodeId: string, credentialId: string, appended: boolean) => {
  const device = await w.enrolled(nodeId, 'ed25519');
  const { receipt } = await delivered(w, device, credentialId);
  const infra = w.infrastructure;
  const run = infra.run.bind(infra);
  infra.run = (async (type, data, correlationId) => {
    if (type !== 'provisionCredential') return run(type, data, correlationId);
    if (appended) await run(type, data, correlationId);
    throw new Error('the store died mid-append');
  }) as typeof infra.run;
  const failed = await new EnrolmentEndpoint(infra).acceptReceipt(receipt).catch((e: unknown) => e);
  infra.run = run;
  expect(failed).toBeInstanceOf(Error);
  const pending = pendingOf(w, credentialId);
  expect(pending).toHaveLength(1);
  return pending[0]!.handle as KeyHandle;
};

const pendingOf = (w: RestartableWorld, credentialId: string) =>
  w.infrastructure.o.registry.pending().filter((b) => b.stream === streamIdOf('credential', credentialId));
const stateOf = async (w: RestartableWorld, credentialId: string) => String((await w.credence.engine.entity('credential', credentialId)).snapshot.value);
const keyExists = async (w: RestartableWorld, handle: KeyHandle) => w.infrastructure.o.se.describe(handle).then(() => true, () => false);
const keyPairRuns = (w: RestartableWorld) => w.infrastructure.o.registry.keyPairRuns().map((r) => r.credentialId);

/**
 * meter-1's run cut with its `CredentialProvisioned` stored (its copy to be confirmed, which asks the Secure
 * Environment for its fingerprint), meter-2's cut with it not stored (to be revoked, its copy destroyed), and a key
 * pair's run of meter-3 recorded begun and never ended; the Secure Environment failing to describe meter-1's copy
 * while `hsm.failing`.
 */
const threeCutRuns = async (w: RestartableWorld) => {
  const failing = await provisioningCutAtItsSecondAppend(w, 'meter-1', FAILING, true);
  const cut = await provisioningCutAtItsSecondAppend(w, 'meter-2', CUT, false);
  w.infrastructure.o.registry.beginKeyPairRun(KEY_PAIR_RUN, w.clock.now());
  const hsm = { failing: true };
  const describe = w.se.describe.bind(w.se);
  w.se.describe = (async (owner, handle) => {
    if (hsm.failing && handle === failing) throw new Error(HSM_FAILURE);
    return describe(owner, handle);
  }) as typeof w.se.describe;
  return { failing, cut, hsm };
};

describe('a pending PSK copy whose settling fails', () => {
  it("does not stop the tick's sweep of the other pending keys and key pair runs, nor the shredder's retries", async () => {
    const w = (world = await restartableWorld('one-failing-pending-key-tick'));
    const { failing, cut, hsm } = await threeCutRuns(w);
    expect(await stateOf(w, CUT)).toBe('initialized');
    expect(keyPairRuns(w)).toEqual([KEY_PAIR_RUN]);
    const shredder = w.credence.shredder!;
    const retryOwed = shredder.retryOwed.bind(shredder);
    let retries = 0;
    shredder.retryOwed = () => {
      retries++;
      return retryOwed();
    };

    // When the service ticks once every run is over, the Secure Environment failing for meter-1's copy
    w.clock.advance((ENROLMENT_SESSION_TIMEOUT_SECONDS + 1) * 1000);
    const failed = await w.credence.tick().then(() => undefined, (e: unknown) => e);
    await w.credence.settle();

    // Then that tick reports meter-1's failure
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toContain(HSM_FAILURE);
    // and at that same tick meter-2 is revoked, its copy destroyed and no longer pending
    expect(await stateOf(w, CUT)).toBe('revoked');
    expect(pendingOf(w, CUT)).toEqual([]);
    expect(await keyExists(w, cut)).toBe(false);
    // meter-3's key pair run is ended, and the shredder's owed keys were tried again
    expect(keyPairRuns(w)).toEqual([]);
    expect(retries).toBe(1);
    // while meter-1's copy is still pending, for a later tick
    expect(pendingOf(w, FAILING)).toHaveLength(1);

    // And once the Secure Environment answers again, the next tick settles meter-1: its copy confirmed
    hsm.failing = false;
    w.clock.advance(1000);
    await w.credence.tick();
    await w.credence.settle();
    expect(pendingOf(w, FAILING)).toEqual([]);
    expect(w.infrastructure.o.registry.live(streamIdOf('credential', FAILING), 'psk')).toEqual([failing]);
    expect(await stateOf(w, FAILING)).not.toBe('revoked');
    expect(retries).toBe(2);
  });

  it("does not stop the start's sweep of the others either", async () => {
    const w = (world = await restartableWorld('one-failing-pending-key-start'));
    const { cut } = await threeCutRuns(w);

    // When a start's sweep runs over them (at a start every run is over), the Secure Environment failing for meter-1's copy
    const failed = await Infrastructure.sweepPendingKeys(w.infrastructure.o).then(() => undefined, (e: unknown) => e);
    await w.credence.settle();

    // Then it reports meter-1's failure, having revoked meter-2, destroyed its copy, and ended meter-3's run
    expect((failed as Error | undefined)?.message).toContain(HSM_FAILURE);
    expect(await stateOf(w, CUT)).toBe('revoked');
    expect(pendingOf(w, CUT)).toEqual([]);
    expect(await keyExists(w, cut)).toBe(false);
    expect(keyPairRuns(w)).toEqual([]);
    expect(pendingOf(w, FAILING)).toHaveLength(1);
  });
});
