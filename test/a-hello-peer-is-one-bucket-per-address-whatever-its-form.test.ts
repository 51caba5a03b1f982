/**
 * Found in review, SER-001 (issue 11 item 4): pending protocol runs are bounded per (claimed identity, peer address),
 * and the peer was `request.ip` as it came. An IPv4 client seen once as `198.51.100.7` and once through a dual-stack
 * listener as `::ffff:198.51.100.7` had two allowances; and a request whose address was unknown gave no peer at all,
 * the bucket of in-process callers, whose runs it could then evict. The peer is now one form per address (node:net),
 * and an unknown address a named bucket of its own.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helloPeer, peerAddress, UNKNOWN_PEER } from '../adapters/http/routes/device-endpoints.ts';
import { SessionTable, type SessionBase } from '../adapters/protocols/shared/session-table.ts';
import { fromBase64url, toBase64url } from '../domain/crypto/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { refusal } from './support/protocol-refusal.ts';

/** SessionTable's default bound of pending runs per claimed identity and peer (adapters/protocols/shared/session-table.ts). */
const PENDING_PER_CLAIMANT = 4;
/** A documentation address (RFC 5737), and the same address as a dual-stack listener reports it. */
const DEVICE = '198.51.100.7';
const DEVICE_MAPPED = '::ffff:198.51.100.7';

describe('the peer a hello is bounded by', () => {
  it('is one form per address: an IPv4-mapped IPv6 address is its IPv4 address, IPv6 its canonical text', () => {
    expect(peerAddress(DEVICE_MAPPED)).toBe(DEVICE);
    expect(peerAddress('::FFFF:C633:6407')).toBe(DEVICE);
    expect(peerAddress('0:0:0:0:0:ffff:198.51.100.7')).toBe(DEVICE);
    expect(peerAddress(DEVICE)).toBe(DEVICE);
    expect(peerAddress('2001:DB8:0:0::1')).toBe('2001:db8::1');
    // Not mapped: a NAT64 address (RFC 6052) is another peer.
    expect(peerAddress('64:ff9b::198.51.100.7')).not.toBe(DEVICE);
    // A link-local address is one peer per interface (its zone index), in one form on each.
    expect(peerAddress('FE80:0:0::1%eth0')).toBe('fe80::1%eth0');
    expect(peerAddress('fe80::1%eth1')).not.toBe(peerAddress('fe80::1%eth0'));
    expect(peerAddress('fe80::1')).toBe('fe80::1');
  });

  it('is a named bucket of its own when the address is unknown, never the in-process callers\' (no peer)', () => {
    expect(helloPeer({ ip: undefined as unknown as string })).toBe(UNKNOWN_PEER);
    expect(peerAddress('')).toBe(UNKNOWN_PEER);
    expect(peerAddress('not an address')).toBe(UNKNOWN_PEER);
  });
});

interface TestSession extends SessionBase {
  stage: 'challenged';
}

describe('hellos from an unknown address', () => {
  it('never evict an in-process caller\'s pending run, however many', async () => {
    const now = new Date(Date.UTC(2030, 0, 1));
    const cleaned: string[] = [];
    const sessions = new SessionTable<TestSession>({ timeoutSeconds: 60, maxSessions: 100, maxPendingPerClaimant: 2, cleanup: async (s) => void cleaned.push(s.id) });
    const add = (id: string, peer?: string) => sessions.add('hello', now, { id, stage: 'challenged' }, { claimant: 'node-a', nonce: `n-${id}`, peer });
    await add('in-process');
    for (let i = 0; i < 10; i++) await add(`unknown-${i}`, helloPeer({ ip: undefined as unknown as string }));
    expect(cleaned).not.toContain('in-process');
    expect(await sessions.step('in-process', 'auth', 'challenged', now, async () => true)).toBe(true);
    expect(await refusal(() => sessions.step('unknown-0', 'auth', 'challenged', now, async () => true))).toEqual({ step: 'auth', reason: 'unknown_session' });
  });
});

describe('over HTTP, a device\'s address in its IPv4-mapped form', () => {
  let world: DeviceServiceWorld;
  let victim: SimulatedDevice;
  beforeAll(async () => {
    world = await deviceServiceWorld();
    victim = await world.enrolledDevice('zz-mapped', 'ed25519');
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  /** One POST to a device route as if from `remoteAddress` (Fastify's `request.ip`). */
  const postFrom = async (remoteAddress: string, url: string, payload: unknown) => {
    const reply = await world.service.service.app.inject({ method: 'POST', url, payload: payload as object, remoteAddress });
    return { status: reply.statusCode, body: reply.json<Record<string, unknown>>() };
  };

  it('shares the allowance of the same address in IPv4 form: its hellos evict the device\'s oldest pending run past the bound', async () => {
    const { id, publicKey } = victim.state.pinned.enrolmentFunction;
    const client = victim.device.provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } });
    const session = await client.start({ credentialKind: 'ed25519', credentialId: 'zz-mapped-svc' });
    try {
      const challenge = await postFrom(DEVICE, '/v1/enrolment/hello', session.hello);
      expect(challenge.status).toBe(200);
      for (let i = 0; i < PENDING_PER_CLAIMANT; i++) {
        const forged = await postFrom(DEVICE_MAPPED, '/v1/enrolment/hello', { ...session.hello, nodeNonce: toBase64url(randomBytes(32)), sentAt: new Date().toISOString() });
        expect(forged.status).toBe(200);
      }
      const refused = await postFrom(DEVICE, '/v1/enrolment/auth', await session.acceptChallenge(challenge.body));
      expect(refused).toMatchObject({ status: 422, body: { step: 'provisioning.auth', reason: 'unknown_session' } });
    } finally {
      await session.abort();
    }
  }, 30_000);
});
