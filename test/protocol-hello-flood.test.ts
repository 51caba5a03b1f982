/**
 * Issue 11 item 4 (SER-001, SER-012): an unauthenticated sender, knowing only public facts (a Node-ID or Registree
 * id and its credential fingerprint), floods the Enrolment Function and the Registrar CSE with hellos. Before the
 * fix each hello wrote its nonce into the shared replay cache and took a session slot, so a burst as large as the
 * cache locked every legitimate node out for the cache window (`replay_cache_full`).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryReplayCache } from '../adapters/driven/replay-cache/replay-cache.ts';
import { SessionTable, type SessionBase } from '../adapters/protocols/shared/session-table.ts';
import { isCredenceError } from '../domain/errors.ts';
import { toBase64url } from './crypto-fixtures.ts';
import { associate, handshakeWorld } from './handshake.fixtures.ts';
import { provision, provisioningWorld } from './provisioning-protocol.fixtures.ts';
import { refusal } from './support/protocol-refusal.ts';

const FLOOD = 2_000;


/** Sends `count` hellos; returns how many were answered with a challenge (the rest were refused). */
const flood = async (count: number, send: () => Promise<unknown>): Promise<number> => {
  let answered = 0;
  for (let i = 0; i < count; i++) {
    try {
      await send();
      answered++;
    } catch (error) {
      if (!isCredenceError(error, 'protocol')) throw error;
    }
  }
  return answered;
};

const randomNonce = () => toBase64url(randomBytes(32));

describe('a hello flood from an unauthenticated sender (issue 11 item 4)', () => {
  it('does not lock a legitimate node out: after 2,000 hellos each against a small shared cache and small session tables, it provisions and associates', async () => {
    // One cache for both responders, as the infrastructure has it, far smaller than the flood.
    const shared = new MemoryReplayCache({ windowSeconds: 900, maxEntries: 8 });
    const prov = await provisioningWorld({ bootstrapKind: 'ed25519', ef: { replayCache: shared, maxSessions: 16 } });
    const assoc = await handshakeWorld({ kind: 'ed25519', registrar: { replayCache: shared, maxSessions: 16 } });
    // The attacker's hellos: the legitimate identities and fingerprints (public), random nonces, no key it holds.
    const provisioningHello = (await prov.client.start({ credentialKind: 'p256' })).hello;
    const associationHello = (await assoc.registree.start({ lifetimeSeconds: 600 })).hello;

    const efAnswered = await flood(FLOOD, () =>
      prov.ef.acceptHello({ ...provisioningHello, nodeNonce: randomNonce(), sentAt: prov.clock.now().toISOString() }),
    );
    const registrarAnswered = await flood(FLOOD, () =>
      assoc.registrar.acceptHello({ ...associationHello, registreeNonce: randomNonce(), sentAt: assoc.clock.now().toISOString() }),
    );
    // Nothing was written for them, and no hello is refused for lack of room: the flood only evicted its own sessions.
    expect({ efAnswered, registrarAnswered }).toEqual({ efAnswered: FLOOD, registrarAnswered: FLOOD });
    expect(shared.namespace('provisioning:MEF-1').size + shared.namespace('association:CSE-IN-1').size).toBe(0);

    const provisioned = await provision(prov, 'p256');
    expect(provisioned.outcome.nodeId).toBe('node-0001');
    const associated = await associate(assoc);
    expect(associated.registrarOutcome.associationId).toBe(associated.registreeOutcome.associationId);

    // SER-012 still holds: the legitimate runs, once authenticated, were remembered and cannot be replayed.
    expect(await refusal(() => prov.ef.acceptHello(provisioned.messages.hello))).toEqual({ step: 'provisioning.hello', reason: 'replayed_nonce' });
    expect(await refusal(() => prov.ef.acceptAuth(provisioned.messages.auth))).toEqual({ step: 'provisioning.auth', reason: 'unknown_session' });
    expect(await refusal(() => assoc.registrar.acceptHello(associated.messages.hello))).toEqual({ step: 'association.hello', reason: 'replayed_nonce' });
    expect(await refusal(() => assoc.registrar.acceptFinish(associated.messages.finish))).toEqual({ step: 'association.finish', reason: 'unknown_session' });
  }, 120_000);

  it('psk256: a legitimate node provisions a PSK after a flood that made the Enrolment Function generate an ephemeral key per hello', async () => {
    const prov = await provisioningWorld({ bootstrapKind: 'psk256', ef: { replayCache: new MemoryReplayCache({ windowSeconds: 900, maxEntries: 4 }), maxSessions: 8 } });
    const hello = (await prov.client.start({ credentialKind: 'psk256' })).hello;
    await flood(200, () => prov.ef.acceptHello({ ...hello, nodeNonce: randomNonce(), sentAt: prov.clock.now().toISOString() }));
    const { outcome } = await provision(prov, 'psk256');
    expect(outcome.credential.kind).toBe('psk256');
  }, 60_000);

  it('a replayed hello of a pending run is still refused, without writing to the replay cache', async () => {
    const cache = new MemoryReplayCache({ windowSeconds: 900, maxEntries: 8 });
    const world = await handshakeWorld({ kind: 'psk256', registrar: { replayCache: cache } });
    const handshake = await world.registree.start({ lifetimeSeconds: 600 });
    await world.registrar.acceptHello(handshake.hello);
    expect(await refusal(() => world.registrar.acceptHello(handshake.hello))).toEqual({ step: 'association.hello', reason: 'replayed_nonce' });
    expect(cache.namespace('association:CSE-IN-1').size).toBe(0);
  });
});

interface TestSession extends SessionBase {
  stage: 'challenged' | 'delivered';
}

const sessionTable = (maxSessions: number, maxPendingPerClaimant = 2) => {
  const cleaned: string[] = [];
  const table = new SessionTable<TestSession>({
    timeoutSeconds: 60,
    maxSessions,
    maxPendingPerClaimant,
    cleanup: async (s) => {
      cleaned.push(s.id);
    },
  });
  return { table, cleaned };
};
const now = new Date(Date.UTC(2030, 0, 1));
const pending = (id: string): TestSession => ({ id, stage: 'challenged' });

describe('session table: state before authentication cannot be used up (issue 11 item 4)', () => {
  it('a new hello of a claimed identity evicts that identity\'s oldest pending session instead of being refused', async () => {
    const { table, cleaned } = sessionTable(100, 2);
    await table.add('hello', now, pending('a1'), { claimant: 'node-a', nonce: 'n1' });
    await table.add('hello', now, pending('a2'), { claimant: 'node-a', nonce: 'n2' });
    await table.add('hello', now, pending('b1'), { claimant: 'node-b', nonce: 'n3' });
    await table.add('hello', now, pending('a3'), { claimant: 'node-a', nonce: 'n4' });
    expect(cleaned).toEqual(['a1']);
    expect(table.size).toBe(3);
  });

  it('a table full of pending sessions evicts the oldest pending one, never an authenticated one', async () => {
    const { table, cleaned } = sessionTable(2, 4);
    await table.add('hello', now, pending('s1'), { claimant: 'node-a', nonce: 'n1' });
    await table.step('s1', 'auth', 'challenged', now, async (s) => {
      s.authenticated = true;
      s.stage = 'delivered';
    });
    await table.add('hello', now, pending('s2'), { claimant: 'node-b', nonce: 'n2' });
    await table.add('hello', now, pending('s3'), { claimant: 'node-c', nonce: 'n3' });
    expect(cleaned).toEqual(['s2']);
    expect(await table.step('s1', 'receipt', 'delivered', now, async () => 'still here')).toBe('still here');
  });

  it('only authenticated sessions can fill the table (too_many_sessions)', async () => {
    const { table } = sessionTable(1, 4);
    await table.add('hello', now, pending('s1'), { claimant: 'node-a', nonce: 'n1' });
    await table.step('s1', 'auth', 'challenged', now, async (s) => {
      s.authenticated = true;
      s.stage = 'delivered';
    });
    expect(await refusal(() => table.add('hello', now, pending('s2'), { claimant: 'node-b', nonce: 'n2' }))).toEqual({ step: 'hello', reason: 'too_many_sessions' });
  });

  it('a full table drops every expired session before it refuses, also those put back behind a live one', async () => {
    const { table, cleaned } = sessionTable(2, 4);
    await table.add('hello', now, pending('s1'), { claimant: 'node-a', nonce: 'n1' });
    const later = new Date(now.getTime() + 30_000);
    await table.add('hello', later, pending('s2'), { claimant: 'node-b', nonce: 'n2' });
    // Each authenticated: s1 is put back after s2, with its earlier expiry.
    for (const [id, at] of [['s2', later], ['s1', later]] as const) {
      await table.step(id, 'auth', 'challenged', at, async (s) => {
        s.authenticated = true;
        s.stage = 'delivered';
      });
    }
    // s1 expired (60 s after `now`), s2 not yet: before, the sweep stopped at s2 and the hello was refused.
    const after = new Date(now.getTime() + 61_000);
    await table.add('hello', after, pending('s3'), { claimant: 'node-c', nonce: 'n3' });
    expect(cleaned).toEqual(['s1']);
    expect(table.size).toBe(2);
  });
});
