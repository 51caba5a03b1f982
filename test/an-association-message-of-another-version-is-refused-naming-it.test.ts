/**
 * The association messages are version 2: version 1 granted the lifetime in the challenge, before the Registree's
 * proof (found in adversarial review: it told anyone holding a public fingerprint when the credential ends). A
 * version 1 message, at either end and over HTTP, is refused `unsupported_version` naming the version, not `malformed`
 * for the fields that moved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handshakeWorld } from './handshake.fixtures.ts';
import { refusalWithMessage } from './support/protocol-refusal.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

const refusedAsVersion1 = (step: string) => ({
  step,
  reason: 'unsupported_version',
  message: `${step} rejected: unsupported_version (association handshake version 1; this end speaks version 2 only)`,
});

describe('a version 1 association message, in process', () => {
  it('a hello or a finish is refused by the Registrar, naming the version', async () => {
    const world = await handshakeWorld({ kind: 'psk256' });
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    expect(await refusalWithMessage(() => world.registrar.acceptHello({ ...handshake.hello, version: 1 }))).toEqual(refusedAsVersion1('association.hello'));
    const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
    expect(await refusalWithMessage(() => world.registrar.acceptFinish({ ...finish, version: 1 }))).toEqual(refusedAsVersion1('association.finish'));
  });

  it('a version 1 challenge (with its lifetime) or confirm is refused by the Registree, naming the version', async () => {
    const world = await handshakeWorld({ kind: 'ed25519' });
    const first = await world.registree.start({ lifetimeSeconds: 600 });
    const challenge = await world.registrar.acceptHello(first.hello);
    const v1 = { ...challenge, version: 1, lifetimeSeconds: 600, expiresAt: '2030-01-01T00:10:00.000Z' };
    expect(await refusalWithMessage(() => first.acceptChallenge(v1))).toEqual(refusedAsVersion1('association.challenge'));

    const second = await world.registree.start({ lifetimeSeconds: 600 });
    const { finish } = await second.acceptChallenge(await world.registrar.acceptHello(second.hello));
    const { confirm } = await world.registrar.acceptFinish(finish);
    expect(await refusalWithMessage(() => second.acceptConfirm({ ...confirm, version: 1 }))).toEqual(refusedAsVersion1('association.confirm'));
  });

  it('a message of another protocol, or no version at all, is still malformed', async () => {
    const world = await handshakeWorld({ kind: 'p256' });
    const { hello } = await world.registree.start({ lifetimeSeconds: 600 });
    expect(await refusalWithMessage(() => world.registrar.acceptHello({ ...hello, type: 'provisioning.hello', version: 1 }))).toMatchObject({ reason: 'malformed' });
    const { version: _dropped, ...unversioned } = hello;
    expect(await refusalWithMessage(() => world.registrar.acceptHello(unversioned))).toMatchObject({ reason: 'malformed' });
  });
});

describe('a version 1 association message over HTTP', () => {
  let world: DeviceServiceWorld;
  beforeAll(async () => {
    world = await deviceServiceWorld();
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  it('a hello or a finish is 422 unsupported_version naming the version, before anything is read of it', async () => {
    const hello = await world.post('/v1/registrar/associations/zz-v1-sa/hello', { type: 'association.hello', version: 1 });
    expect(hello).toMatchObject({ status: 422, body: { step: 'association.hello', reason: 'unsupported_version', detail: refusedAsVersion1('association.hello').message } });
    const finish = await world.post('/v1/registrar/associations/zz-v1-sa/finish', { type: 'association.finish', version: 1 });
    expect(finish).toMatchObject({ status: 422, body: { step: 'association.finish', reason: 'unsupported_version', detail: refusedAsVersion1('association.finish').message } });
  });
});
