import { describe, expect, it } from 'vitest';
import { isCredenceError, type CredenceError } from '../domain/errors.ts';
import { associationLifetime } from '../domain/protocols/association-lifetime.ts';
import { concealedRefusal } from '../domain/protocols/protocol.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { EF_OWNER, provisioningWorld } from './provisioning-protocol.fixtures.ts';
import { handshakeWorld, REGISTRAR_OWNER } from './handshake.fixtures.ts';

/*
 * Found in review (seed 002 unobservability; SER-001): a hello is answered before its sender has authenticated, yet
 * it was told `credential_revoked`, `credential_expired` or `credential_not_yet_valid` with the fingerprint, and
 * `lifetime_exhausted` with the credential's notAfter, where a credential the service does not know was
 * `unknown_credential`. With a Node-ID and a public fingerprint, anyone could learn that a device was revoked and
 * when a credential ends. Every such refusal is now the same answer; the real one is kept for the service's log. A
 * credential too near its end for any association is no longer refused at the hello at all: its hello is answered as
 * any other, and `lifetime_exhausted` comes at the finish, to a peer that has proved it holds the credential
 * (test/a-credential-with-no-lifetime-left-is-refused-after-its-proof.test.ts). Found in review after that: the
 * refusal itself, against a challenge for a usable credential, still told whether a credential could be used; an
 * association hello is now answered with a decoy challenge, the real reason still kept for the log; and so, later, is
 * a provisioning hello.
 */

/** What the Registrar or the Enrolment Function tells the service's log of a credential it answered a decoy challenge for. */
type Concealed = (refusal: CredenceError) => void;

describe('a provisioning hello for a bootstrap credential that cannot be used', () => {
  const cases = [
    ['from an unknown node', 'unknown_credential', async () => {
      const world = await provisioningWorld({ bootstrapKind: 'ed25519' });
      const session = await world.client.start({ credentialKind: 'p256' });
      return (concealed: Concealed) => world.ef.acceptHello({ ...session.hello, nodeId: 'node-9999' }, {}, undefined, concealed);
    }],
    ['whose credential was revoked', 'credential_revoked', async () => {
      const world = await provisioningWorld({ bootstrapKind: 'p256', bootstrapRevoked: true });
      const session = await world.client.start({ credentialKind: 'p256' });
      return (concealed: Concealed) => world.ef.acceptHello(session.hello, {}, undefined, concealed);
    }],
    ['whose credential has expired', 'credential_expired', async () => {
      const world = await provisioningWorld({ bootstrapKind: 'p256', bootstrapValidity: { notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2029-12-31T00:00:00.000Z' } });
      const session = await world.client.start({ credentialKind: 'p256' });
      return (concealed: Concealed) => world.ef.acceptHello(session.hello, {}, undefined, concealed);
    }],
    ['whose credential is not valid yet', 'credential_not_yet_valid', async () => {
      const world = await provisioningWorld({ bootstrapKind: 'p256', bootstrapValidity: { notBefore: '2031-01-01T00:00:00.000Z', notAfter: '2032-01-01T00:00:00.000Z' } });
      const session = await world.client.start({ credentialKind: 'p256' });
      return (concealed: Concealed) => world.ef.acceptHello(session.hello, {}, undefined, concealed);
    }],
    ['whose bootstrap PSK was shredded (the credential ended during the hello)', 'credential_revoked', async () => {
      const world = await provisioningWorld({ bootstrapKind: 'psk256' });
      await world.efSe.destroy(EF_OWNER, world.bootstrap.efHandle as KeyHandle);
      const session = await world.client.start({ credentialKind: 'psk256' });
      return (concealed: Concealed) => world.ef.acceptHello(session.hello, {}, undefined, concealed);
    }],
  ] as const;

  // Not refused either (adapters/protocols/shared/decoy.ts;
  // test/a-provisioning-hello-for-an-unusable-bootstrap-gets-a-challenge-like-any-other.test.ts).
  it.each(cases)('%s is answered with a challenge like any other; the log keeps %s', async (_case, real, arrange) => {
    const told: unknown[] = [];
    const challenge = await (await arrange())((refusal) => told.push(refusal));
    expect(challenge).toMatchObject({ type: 'provisioning.challenge', enrolmentFunctionId: expect.any(String) });
    expect(told.map(concealedRefusal)).toEqual([expect.objectContaining({ step: 'provisioning.hello', reason: real })]);
  });
});

describe('an association hello for a credential that cannot be used', () => {
  const cases = [
    ['from an unknown Registree', 'unknown_credential', async () => {
      const world = await handshakeWorld({ kind: 'psk256' });
      const handshake = await world.registree.start({ lifetimeSeconds: 60 });
      return (concealed: Concealed) => world.registrar.acceptHello({ ...handshake.hello, registreeId: 'CSE-MN-8' }, undefined, undefined, concealed);
    }],
    ['whose credential was revoked', 'credential_revoked', async () => {
      const world = await handshakeWorld({ kind: 'p256', revoked: true });
      const handshake = await world.registree.start({ lifetimeSeconds: 60 });
      return (concealed: Concealed) => world.registrar.acceptHello(handshake.hello, undefined, undefined, concealed);
    }],
    ['whose credential has expired', 'credential_expired', async () => {
      const world = await handshakeWorld({ kind: 'ed25519', validity: { notBefore: '2029-01-01T00:00:00.000Z', notAfter: '2030-01-01T00:10:00.000Z' } });
      const handshake = await world.registree.start({ lifetimeSeconds: 60 });
      world.clock.set('2030-01-01T00:10:00.000Z');
      return (concealed: Concealed) => world.registrar.acceptHello({ ...handshake.hello, sentAt: '2030-01-01T00:10:00.000Z' }, undefined, undefined, concealed);
    }],
    ['whose PSK the Registrar no longer holds (the credential ended during the hello)', 'credential_revoked', async () => {
      const world = await handshakeWorld({ kind: 'psk256' });
      await world.registrarSe.destroy(REGISTRAR_OWNER, world.registrarHandle as KeyHandle);
      const handshake = await world.registree.start({ lifetimeSeconds: 60 });
      return (concealed: Concealed) => world.registrar.acceptHello(handshake.hello, undefined, undefined, concealed);
    }],
  ] as const;

  // Not even refused: a refusal, whatever it says, tells that the credential cannot be used. A decoy challenge
  // (adapters/protocols/shared/decoy.ts; test/an-association-hello-for-an-unusable-credential-gets-a-challenge-like-any-other.test.ts).
  it.each(cases)('%s is answered with a challenge like any other; the log keeps %s', async (_case, real, arrange) => {
    const told: unknown[] = [];
    const challenge = await (await arrange())((refusal) => told.push(refusal));
    expect(challenge).toMatchObject({ type: 'association.challenge', registrarId: 'CSE-IN-1' });
    expect(told.map(concealedRefusal)).toEqual([expect.objectContaining({ step: 'association.hello', reason: real })]);
  });
});

describe('the refusal of a lifetime that does not fit', () => {
  it('does not say when the credential ends', () => {
    const notAfter = '2030-01-01T00:01:00.000Z';
    let refused: unknown;
    try {
      associationLifetime({ requestedSeconds: 30, credentialNotAfter: notAfter, now: new Date('2030-01-01T00:00:30.000Z'), marginSeconds: 60, step: 'association.finish' });
    } catch (error) {
      refused = error;
    }
    expect(isCredenceError(refused, 'protocol') && refused.problem).toMatchObject({ reason: 'lifetime_exhausted' });
    expect((refused as Error).message).not.toContain(notAfter);
    expect((refused as Error).message).not.toContain('2030');
  });
});
