import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { credentialById } from '../adapters/protocols/procedures/registrar-credentials.ts';
import { associate, handshakeWorld, REGISTREE_ID, type HandshakeWorld } from './handshake.fixtures.ts';
import { at, cmd, T0 } from './support/fleet.ts';

/*
 * HLR-212, review 64 F5: an association on a credential being rotated was granted up to the credential's notAfter,
 * past the end of the rotation's overlap, when the credential hands over to its successor and the cascade revokes
 * the association: its device, told the longer lifetime, never learnt of it. The Registrar now cuts the grant to the
 * overlap's end as well (the device is told the real lifetime). A credential with no rotation standing is granted as
 * before. The engine's rule (lifetimeShorterThanCredential) still bounds by notAfter alone: stored histories it
 * accepted must stay legal on replay.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** meter-1 enrolled; cred-1 (to at(90)) provisioned and sa-1 configured on it; with `rotated`, a rotation to cred-2 until at(5). */
const open = async (rotated: boolean) => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) {
    await c.engine.execute(x);
  }
  if (rotated) {
    await c.engine.execute(cmd.issueCredential('cred-2', 'meter-1', at(90), { predecessorId: 'cred-1' }));
    await c.engine.execute(cmd.provisionCredential('cred-2'));
    await c.engine.execute(cmd.startCredentialRotation(at(5)));
  }
  await c.engine.execute(cmd.configureAssociation('sa-1', 'cred-1'));
  await c.settle();
  return c;
};

describe('the service\'s Registrar CSE reads the end of a standing overlap with the credential (HLR-212)', () => {
  const lookups = (c: Credence) => ({ engine: c.engine, registry: { live: () => [] } }) as unknown as Parameters<typeof credentialById>[0];
  const fingerprintOf = async (c: Credence) => (await c.engine.entity('credential', 'cred-1')).snapshot.context as { fingerprint: string };

  it('hands the Registrar the overlap end of a credential being rotated', async () => {
    const c = await open(true);
    const found = await credentialById(lookups(c), 'cred-1', (await fingerprintOf(c)).fingerprint);
    expect(found?.overlapEndsAt).toBe(at(5));
  });

  it('with no rotation standing, hands no overlap end', async () => {
    const c = await open(false);
    const found = await credentialById(lookups(c), 'cred-1', (await fingerprintOf(c)).fingerprint);
    expect(found).toBeDefined();
    expect(found?.overlapEndsAt).toBeUndefined();
  });
});

describe('the Registrar CSE grants no association on a credential being rotated past the overlap (HLR-212)', () => {
  const DAY_S = 24 * 3600;
  /** A PSK world (credential valid to 2031, now 2030-01-01) whose Registrar reads the credential with `overlapEndsAt`. */
  const world = async (overlapEndsAt?: string) => {
    const w: HandshakeWorld = await handshakeWorld({
      kind: 'psk256',
      registrar: {
        resolveCredential: async (id, fingerprint) =>
          id === REGISTREE_ID && fingerprint === w.descriptor.fingerprint
            ? { descriptor: w.descriptor, handle: w.registrarHandle!, ...(overlapEndsAt !== undefined ? { overlapEndsAt } : {}) }
            : undefined,
      },
    });
    return w;
  };

  it('cuts the grant to the end of the overlap minus the margin, and the device is told that lifetime', async () => {
    const overlapEndsAt = '2030-01-06T00:00:00.000Z';
    const { registrarOutcome, registreeOutcome } = await associate(await world(overlapEndsAt), 30 * DAY_S);
    expect(registrarOutcome.lifetimeSeconds).toBe(5 * DAY_S - 61); // 5 days left, 60 s margin, strictly below
    expect(registrarOutcome.expiresAt).toBe('2030-01-05T23:58:59.000Z');
    expect(registreeOutcome).toMatchObject({ lifetimeSeconds: registrarOutcome.lifetimeSeconds, expiresAt: registrarOutcome.expiresAt });
  });

  it('with no rotation standing, grants up to the credential as before', async () => {
    const { registrarOutcome, registreeOutcome } = await associate(await world(), 30 * DAY_S);
    expect(registrarOutcome).toMatchObject({ lifetimeSeconds: 30 * DAY_S, expiresAt: '2030-01-31T00:00:00.000Z' });
    expect(registreeOutcome.expiresAt).toBe('2030-01-31T00:00:00.000Z');
  });
});
