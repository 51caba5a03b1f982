/**
 * Review 64 F5, one step later (HLR-212): the Registrar cut an association's grant to the credential's end as the
 * hello read it. A rotation started between the hello and the finish, its overlap ending before that, was not seen:
 * the grant outlived the overlap, at whose end the cascade revokes the association unbeknown to its device. The
 * finish reads the credential again once the proof verifies (registrar-still-usable.ts); the grant is now cut to the
 * earlier of the hello's end and that read's.
 */
import { describe, expect, it } from 'vitest';
import type { RegistreeCredential } from '../adapters/protocols/association/registrar-options.ts';
import { handshakeWorld, REGISTREE_ID, type HandshakeWorld } from './handshake.fixtures.ts';

const DAY_S = 24 * 3600;

/** A PSK world (credential valid to 2031, now 2030-01-01) whose Registrar reads `overlap.endsAt` on every lookup. */
const world = async (overlap: { endsAt?: string }) => {
  const w: HandshakeWorld = await handshakeWorld({
    kind: 'psk256',
    registrar: {
      resolveCredential: async (id, fingerprint): Promise<RegistreeCredential | undefined> =>
        id === REGISTREE_ID && fingerprint === w.descriptor.fingerprint
          ? { descriptor: w.descriptor, handle: w.registrarHandle!, ...(overlap.endsAt !== undefined ? { overlapEndsAt: overlap.endsAt } : {}) }
          : undefined,
    },
  });
  return w;
};

describe('an association finish after a rotation of its credential started since the hello', () => {
  it('is granted to the end of the overlap minus the margin, and the device is told that lifetime', async () => {
    const overlap: { endsAt?: string } = {};
    const w = await world(overlap);
    const handshake = await w.registree.start({ lifetimeSeconds: 30 * DAY_S });
    const { finish } = await handshake.acceptChallenge(await w.registrar.acceptHello(handshake.hello));
    // startCredentialRotation between the two messages, its overlap ending in 5 days.
    overlap.endsAt = '2030-01-06T00:00:00.000Z';

    const { confirm, outcome } = await w.registrar.acceptFinish(finish);
    const registreeOutcome = await handshake.acceptConfirm(confirm);

    expect(outcome).toMatchObject({ lifetimeSeconds: 5 * DAY_S - 61, expiresAt: '2030-01-05T23:58:59.000Z' });
    expect(registreeOutcome).toMatchObject({ lifetimeSeconds: 5 * DAY_S - 61, expiresAt: '2030-01-05T23:58:59.000Z' });
  });

  it('keeps the hello\'s end when the credential read again ends later', async () => {
    const overlap: { endsAt?: string } = { endsAt: '2030-01-06T00:00:00.000Z' };
    const w = await world(overlap);
    const handshake = await w.registree.start({ lifetimeSeconds: 30 * DAY_S });
    const { finish } = await handshake.acceptChallenge(await w.registrar.acceptHello(handshake.hello));
    // The rotation was cancelled between the two messages: the hello's end still holds (the earlier one).
    delete overlap.endsAt;

    const { outcome } = await w.registrar.acceptFinish(finish);

    expect(outcome).toMatchObject({ lifetimeSeconds: 5 * DAY_S - 61, expiresAt: '2030-01-05T23:58:59.000Z' });
  });
});
