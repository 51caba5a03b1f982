/**
 * Review 400 F2: in a running service, a PSK credential whose provisioning append failed with an outcome the process
 * cannot know (a plain Error: the store dying mid-append) stayed `initialized` until a restart, its PSK copy live and
 * pending in the Secure Environment. The tick ended a key pair's cut run once it was over (`sweepCutKeyPairRuns`);
 * only a start settled a PSK's pending copy (`sweepPendingKeys`). The tick now settles it too, once its run is over:
 * the credential revoked and its copy destroyed, or the copy confirmed when `CredentialProvisioned` was in fact recorded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EnrolmentEndpoint } from '../adapters/protocols/procedures/index.ts';
import { ENROLMENT_SESSION_TIMEOUT_SECONDS } from '../adapters/protocols/procedures/cut-provisioning.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { streamIdOf } from '../domain/streams.ts';
import { delivered, restartableWorld, type RestartableWorld } from './support/restartable-world.ts';

let world: RestartableWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const CREDENTIAL = 'meter-1-svc';
const STREAM = streamIdOf('credential', CREDENTIAL);

/**
 * meter-1's psk256 run of CREDENTIAL over the endpoint, its `provisionCredential` append failing with a plain Error
 * (an outcome unknown), `appended` saying whether the event was in fact stored before the failure.
 */
const provisioningCutAtItsSecondAppend = async (w: RestartableWorld, appended: boolean) => {
  const device = await w.enrolled('meter-1', 'ed25519');
  const { receipt } = await delivered(w, device, CREDENTIAL);
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
  const pending = infra.o.registry.pending().filter((b) => b.stream === STREAM);
  expect(pending).toHaveLength(1);
  const handle = pending[0]!.handle as KeyHandle;
  expect(await keyExists(w, handle)).toBe(true);
  return handle;
};

const stateOf = async (w: RestartableWorld) => String((await w.credence.engine.entity('credential', CREDENTIAL)).snapshot.value);
const pendingOf = (w: RestartableWorld) => w.infrastructure.o.registry.pending().filter((b) => b.stream === STREAM);
const keyExists = async (w: RestartableWorld, handle: KeyHandle) => w.infrastructure.o.se.describe(handle).then(() => true, () => false);

describe("a PSK credential whose provisioning's second append had an unknown outcome, in a running service", () => {
  it('is revoked at the first tick after its run is over, its PSK copy destroyed and no longer pending', async () => {
    const w = (world = await restartableWorld('psk-cut-tick-revoked'));
    // Given the credential is issued and left initialized, its PSK copy pending
    const handle = await provisioningCutAtItsSecondAppend(w, false);
    expect(await stateOf(w)).toBe('initialized');

    // When the service ticks before the run's session timeout, it stands
    w.clock.advance((ENROLMENT_SESSION_TIMEOUT_SECONDS - 1) * 1000);
    await w.credence.tick();
    await w.credence.settle();
    expect(await stateOf(w)).toBe('initialized');
    expect(pendingOf(w)).toHaveLength(1);

    // and at the tick after it, no restart between
    w.clock.advance(2_000);
    await w.credence.tick();
    await w.credence.settle();

    // Then the credential is revoked, and its PSK copy is gone from the Secure Environment and the pending bindings
    const credential = await w.credence.engine.entity('credential', CREDENTIAL);
    expect(String(credential.snapshot.value)).toBe('revoked');
    expect((credential.snapshot.context as { revocationReason?: string }).revocationReason).toBe('cessationOfOperation');
    expect(pendingOf(w)).toEqual([]);
    expect(await keyExists(w, handle)).toBe(false);
    expect(w.infrastructure.o.registry.live(STREAM)).toEqual([]);
  });

  it('is confirmed, not revoked, at that tick when its CredentialProvisioned was in fact recorded', async () => {
    const w = (world = await restartableWorld('psk-cut-tick-confirmed'));
    const handle = await provisioningCutAtItsSecondAppend(w, true);
    expect(await stateOf(w)).not.toBe('initialized');
    const provisioned = await stateOf(w);

    w.clock.advance((ENROLMENT_SESSION_TIMEOUT_SECONDS + 1) * 1000);
    await w.credence.tick();
    await w.credence.settle();

    expect(await stateOf(w)).toBe(provisioned);
    expect(pendingOf(w)).toEqual([]);
    expect(await keyExists(w, handle)).toBe(true);
    expect(w.infrastructure.o.registry.live(STREAM, 'psk')).toEqual([handle]);
  });
});
