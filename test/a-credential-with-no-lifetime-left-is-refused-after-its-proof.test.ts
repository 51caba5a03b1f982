/**
 * Found in adversarial review (seeds 002/004; SER-001): a credential too near its end for any association (no whole
 * second left after the margin, clause 11.3.2) was refused at the hello, so the grant had to be computed there and
 * went into the challenge, telling anyone when the credential ends. The hello is now answered as any other, and the
 * refusal, `lifetime_exhausted`, comes at the finish, once the Registree's proof has verified: only a peer holding
 * the credential learns it, and nothing is written for the run (no key, no replay-cache entry, no event).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryReplayCache } from '../adapters/driven/replay-cache/replay-cache.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { tamper } from './crypto-fixtures.ts';
import { handshakeWorld } from './handshake.fixtures.ts';
import { footprint } from './support/fleet.ts';
import { refusal, refusalWithMessage } from './support/protocol-refusal.ts';
import { securityWorld } from './support/security-world.ts';

const KINDS = ['psk256', 'ed25519', 'p256'] as const;
/** The fake clock is at 2030-01-01T00:00:00Z: 60 s left, all of it the default margin. */
const SPENT = { notBefore: '2029-01-01T00:00:00.000Z', notAfter: '2030-01-01T00:01:00.000Z' };

const spentWorld = async (kind: (typeof KINDS)[number]) => {
  const cache = new MemoryReplayCache({ windowSeconds: 900, maxEntries: 100 });
  const world = await handshakeWorld({ kind, validity: SPENT, registrar: { replayCache: cache } });
  const derived: KeyHandle[] = [];
  const deriveKey = world.registrarSe.deriveKey.bind(world.registrarSe);
  world.registrarSe.deriveKey = async (owner, spec) => {
    const handle = await deriveKey(owner, spec);
    derived.push(handle);
    return handle;
  };
  return { world, cache, derived };
};

describe('a credential with no lifetime left after the margin', () => {
  for (const kind of KINDS) {
    it(`${kind}: its hello gets a challenge; its verified finish is refused lifetime_exhausted, and nothing is kept`, async () => {
      const { world, cache, derived } = await spentWorld(kind);
      const handshake = await world.registree.start({ lifetimeSeconds: 30 });
      const challenge = await world.registrar.acceptHello(handshake.hello);
      const { finish } = await handshake.acceptChallenge(challenge);
      const refused = await refusalWithMessage(() => world.registrar.acceptFinish(finish));
      expect(refused).toMatchObject({ step: 'association.finish', reason: 'lifetime_exhausted' });
      expect(refused.message).not.toContain('2030-01-01T00:01');
      expect(cache.namespace('association:CSE-IN-1').size).toBe(0);
      expect(derived).toEqual([]); // refused before any key of the run was derived
      expect(world.registrar.sessionCount).toBe(0);
      expect(await refusal(() => world.registrar.acceptFinish(finish))).toEqual({ step: 'association.finish', reason: 'unknown_session' });
      await handshake.abort();
    });

    it(`${kind}: a finish whose proof does not verify is refused for its proof, never told lifetime_exhausted`, async () => {
      const { world } = await spentWorld(kind);
      const handshake = await world.registree.start({ lifetimeSeconds: 30 });
      const { finish } = await handshake.acceptChallenge(await world.registrar.acceptHello(handshake.hello));
      expect(await refusal(() => world.registrar.acceptFinish(tamper(finish, ['proof'])))).toEqual({
        step: 'association.finish',
        reason: kind === 'psk256' ? 'bad_mac' : 'bad_signature',
      });
      await handshake.abort();
    });
  }
});

describe('a credential with no lifetime left, through the security procedures', () => {
  let world: Awaited<ReturnType<typeof securityWorld>> | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('the handshake is refused at the finish, lifetime_exhausted, and nothing is written: no event, no session key', async () => {
    world = await securityWorld('no-lifetime-left');
    const w = world;
    const device = await w.provisioned('meter-1', 'ed25519', 'p256');
    await w.infrastructure.run('configureAssociation', {
      associationId: 'sa-1', nodeId: 'meter-1', credentialId: 'meter-1-svc', registree: { kind: 'cse', id: '/meter-1-cse' }, registrarCseId: '/in-cse',
    });
    const notAfter = device.credentials.get('meter-1-svc')!.descriptor.validity.notAfter;
    w.clock.set(new Date(Date.parse(notAfter) - 30_000));
    const before = await footprint(w.credence.store);
    const stored: string[] = [];
    for (const se of [w.infraSe, w.seOf(device)]) {
      const deriveKey = se.deriveKey.bind(se);
      se.deriveKey = async (owner, spec) => {
        const handle = await deriveKey(owner, spec);
        stored.push(handle);
        return handle;
      };
    }
    const error = await w.procedures
      .establish({ device, associationId: 'sa-1', credentialId: 'meter-1-svc', lifetimeSeconds: 3600, registreeId: '/meter-1-cse' })
      .catch((e: unknown) => e);
    expect(isCredenceError(error, 'protocol') && error.problem).toMatchObject({ step: 'association.finish', reason: 'lifetime_exhausted' });
    expect(await footprint(w.credence.store)).toEqual(before);
    expect(w.credence.keyRegistry?.live('association-sa-1')).toEqual([]);
    // The device derived only its in-memory handshake keys (hs, two Finished keys); the Registrar none.
    expect(stored.length).toBe(3);
  });
});
