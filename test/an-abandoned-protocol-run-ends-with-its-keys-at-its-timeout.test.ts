/**
 * Found in review 87 (key hygiene; seed 004, SER-010): the session tables of the Enrolment Function and the Registrar
 * ended an expired run only when a new hello came (or its own late message), so a run its peer abandoned kept its keys
 * in the Secure Environment past its timeout for as long as the service stayed quiet: an association hello's ephemeral
 * private key (a decoy run's too, said in docs/service.md to be destroyed at its expiry), a provisioning run's copy of
 * the PSK it delivered and its delivery key (new-credential.ts: "a run that times out leaves no stored copy"). The
 * service's tick now ends them (`Credence.tick`, and the live runtime's), and a late message of such a run is still
 * told `stale`, once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EnrolmentEndpoint, RegistrarEndpoint } from '../adapters/protocols/procedures/index.ts';
import { startLive } from '../adapters/runtime/index.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { told } from './support/protocol-answers.ts';
import { restartableWorld, type RestartableWorld } from './support/restartable-world.ts';

let world: RestartableWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/**
 * The infrastructure's ephemeral keys, by handle: every key a run makes is (its ephemeral, a PSK copy before the
 * receipt, a delivery key), and no other key the service makes meanwhile (the pseudonym key at a first tick) is.
 */
const keysOf = async (w: RestartableWorld): Promise<Set<KeyHandle>> =>
  new Set((await w.se.listKeys(w.infrastructure.owner, { limit: 1000 })).keys.filter((k) => k.ephemeral).map((k) => k.handle));

/** The ephemeral keys made since `before`. */
const madeSince = async (w: RestartableWorld, before: Set<KeyHandle>): Promise<KeyHandle[]> => [...(await keysOf(w))].filter((h) => !before.has(h));

/** meter-1's psk256 provisioning run, one message at a time as over HTTP, left after the delivery: its receipt never sent. */
const provisioningLeftAtTheDelivery = async (w: RestartableWorld) => {
  const device = await w.enrolled('meter-1', 'ed25519');
  const endpoint = new EnrolmentEndpoint(w.infrastructure);
  const client = device.provisioningClient({
    id: w.infrastructure.enrolmentFunctionId,
    publicKey: { kind: w.infrastructure.signing.kind, bytes: w.infrastructure.signing.efPublicKey },
  });
  const session = await client.start({ credentialKind: 'psk256', credentialId: 'meter-1-svc' });
  const before = await keysOf(w);
  const auth = await session.acceptChallenge(await endpoint.acceptHello(session.hello));
  const delivery = await endpoint.acceptAuth(auth);
  const { receipt } = await session.acceptDelivery(delivery);
  await session.abort();
  return { endpoint, receipt, before };
};

/** A decoy association run (an association never configured), signature mode, left after its challenge: its finish never sent. */
const decoyAssociationLeftAtTheChallenge = async (w: RestartableWorld) => {
  const device = await w.provisioned('meter-2', 'ed25519', 'ed25519');
  const endpoint = new RegistrarEndpoint(w.infrastructure);
  const pinned = await w.infrastructure.pinned('registrar');
  const handshake = await device.registree('meter-2-svc', device.cseId!, { id: pinned.id, key: pinned.publicKey }).start({ lifetimeSeconds: 600, associationId: 'sa-nowhere' });
  const before = await keysOf(w);
  const { finish } = await handshake.acceptChallenge(await endpoint.acceptHello('sa-nowhere', handshake.hello));
  await handshake.abort();
  return { endpoint, finish, before };
};

describe('a protocol run its peer abandons ends with its keys at its session timeout, with no further message', () => {
  it('a provisioning run left after the delivery: its PSK copy and delivery key are destroyed at the tick after 120 s; its receipt is then stale', async () => {
    const w = (world = await restartableWorld('abandoned-provisioning'));
    const { endpoint, receipt, before } = await provisioningLeftAtTheDelivery(w);
    // Given the run holds keys the delivery made (the infrastructure's copy of the PSK, the delivery key)
    expect(w.infrastructure.enrolmentFunction.sessionCount).toBe(1);
    expect((await madeSince(w, before)).length).toBeGreaterThan(0);

    // When the service ticks before the timeout, the run stands
    w.clock.advance(119_000);
    await w.credence.tick();
    expect(w.infrastructure.enrolmentFunction.sessionCount).toBe(1);
    // and when it ticks once the timeout has passed, nothing else having come
    w.clock.advance(2_000);
    await w.credence.tick();

    // Then the run and every key it made are gone
    expect(w.infrastructure.enrolmentFunction.sessionCount).toBe(0);
    expect(await madeSince(w, before)).toEqual([]);
    // and its late receipt is told what it was told before, stale, once; nothing was recorded
    expect((await told(() => endpoint.acceptReceipt(receipt))).problem).toMatchObject({ step: 'provisioning.receipt', reason: 'stale' });
    expect((await told(() => endpoint.acceptReceipt(receipt))).problem).toMatchObject({ reason: 'unknown_session' });
    expect((await w.credence.engine.entity('credential', 'meter-1-svc')).events).toEqual([]);
  });

  it("a decoy association run left after its challenge: its ephemeral key is destroyed at the tick after 60 s; its finish is then stale", async () => {
    const w = (world = await restartableWorld('abandoned-decoy-association'));
    const { endpoint, finish, before } = await decoyAssociationLeftAtTheChallenge(w);
    expect(w.infrastructure.registrar.sessionCount).toBe(1);
    expect(await madeSince(w, before)).toHaveLength(1);

    w.clock.advance(59_000);
    await w.credence.tick();
    expect(await madeSince(w, before)).toHaveLength(1);
    w.clock.advance(2_000);
    await w.credence.tick();

    expect(w.infrastructure.registrar.sessionCount).toBe(0);
    expect(await madeSince(w, before)).toEqual([]);
    expect((await told(() => endpoint.acceptFinish('sa-nowhere', finish))).problem).toMatchObject({ step: 'association.finish', reason: 'stale' });
    expect((await told(() => endpoint.acceptFinish('sa-nowhere', finish))).problem).toMatchObject({ reason: 'unknown_session' });
  });

  it('a running service ends them at its own tick', async () => {
    const w = (world = await restartableWorld('abandoned-live'));
    const { before } = await decoyAssociationLeftAtTheChallenge(w);
    const live = startLive(w.credence, { tickMs: 10 });
    try {
      await live.start();
      w.clock.advance(61_000);
      await expect.poll(() => w.infrastructure.registrar.sessionCount, { timeout: 5_000 }).toBe(0);
      expect(await madeSince(w, before)).toEqual([]);
    } finally {
      await live.stop();
    }
  });
});
