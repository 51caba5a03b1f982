import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { credentialById, credentialOfAssociation } from '../adapters/protocols/procedures/registrar-credentials.ts';
import { associate, handshakeWorld, REGISTREE_ID, type HandshakeWorld } from './handshake.fixtures.ts';
import { at, cmd, T0 } from './support/fleet.ts';

/*
 * Seed 003 11.2.1 (a credential's lifetime corresponds to the M2M service subscription's), review 195: an association
 * was granted up to its credential's notAfter, past the end of its node's subscription: the device, told the longer
 * lifetime, kept using it after the contract ended. The Registrar now cuts the grant to the subscription's end too.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

describe('the service\'s Registrar CSE reads the end of the node\'s subscription with the credential', () => {
  /**
   * sub-1 ends at(30); meter-1 enrolled under it; cred-1 (to at(30): a node's service credential ends by its
   * subscription's end, endsWithinSubscription, review 197) provisioned and sa-1 configured on it.
   */
  const open = async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription('sub-1', at(30)), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1', 'meter-1', at(30)), cmd.provisionCredential('cred-1'), cmd.configureAssociation('sa-1', 'cred-1')]) {
      await c.engine.execute(x);
    }
    await c.settle();
    const lookups = { engine: c.engine, registry: { live: () => [] } } as unknown as Parameters<typeof credentialById>[0];
    const { fingerprint } = (await c.engine.entity('credential', 'cred-1')).snapshot.context as { fingerprint: string };
    return { lookups, fingerprint };
  };

  it('hands the Registrar the subscription end of the node the credential serves', async () => {
    const { lookups, fingerprint } = await open();
    expect((await credentialById(lookups, 'cred-1', fingerprint))?.subscriptionEndsAt).toBe(at(30));
  });

  it('hands it with the credential an association was configured with, by the association\'s node', async () => {
    const { lookups, fingerprint } = await open();
    expect((await credentialOfAssociation(lookups, '/in-cse', 'sa-1', '/cse-meter-1', fingerprint))?.subscriptionEndsAt).toBe(at(30));
  });
});

describe('the Registrar CSE grants no association past its node\'s subscription end (seed 003 11.2.1)', () => {
  const DAY_S = 24 * 3600;
  /** A PSK world (credential valid to 2031, now 2030-01-01) whose node's subscription ends at `subscriptionEndsAt`. */
  const world = async (subscriptionEndsAt: string, overlapEndsAt?: string) => {
    const w: HandshakeWorld = await handshakeWorld({
      kind: 'psk256',
      registrar: {
        resolveCredential: async (id, fingerprint) =>
          id === REGISTREE_ID && fingerprint === w.descriptor.fingerprint
            ? { descriptor: w.descriptor, handle: w.registrarHandle!, subscriptionEndsAt, ...(overlapEndsAt !== undefined ? { overlapEndsAt } : {}) }
            : undefined,
      },
    });
    return w;
  };

  it('cuts the grant to the subscription end minus the margin, and the device is told that lifetime', async () => {
    const { registrarOutcome, registreeOutcome } = await associate(await world('2030-01-03T00:00:00.000Z'), 7 * DAY_S);
    expect(registrarOutcome.lifetimeSeconds).toBe(2 * DAY_S - 61); // 2 days left, 60 s margin, strictly below
    expect(registrarOutcome.expiresAt).toBe('2030-01-02T23:58:59.000Z');
    expect(registreeOutcome).toMatchObject({ lifetimeSeconds: registrarOutcome.lifetimeSeconds, expiresAt: registrarOutcome.expiresAt });
  });

  it('cuts to the earliest of the subscription end and a rotation overlap end', async () => {
    const { registrarOutcome } = await associate(await world('2030-01-05T00:00:00.000Z', '2030-01-03T00:00:00.000Z'), 7 * DAY_S);
    expect(registrarOutcome.expiresAt).toBe('2030-01-02T23:58:59.000Z');
  });

  it('a subscription ending after the requested lifetime leaves the grant as asked', async () => {
    const { registrarOutcome } = await associate(await world('2030-06-01T00:00:00.000Z'), 7 * DAY_S);
    expect(registrarOutcome).toMatchObject({ lifetimeSeconds: 7 * DAY_S, expiresAt: '2030-01-08T00:00:00.000Z' });
  });
});
