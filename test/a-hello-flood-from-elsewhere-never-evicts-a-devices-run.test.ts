/**
 * Found in review, SER-001 (issue 11 item 4): anyone holding a device's Node-ID and bootstrap fingerprint (public
 * facts) could block its provisioning or its handshake from anywhere. A new hello evicted the oldest pending run of
 * the identity it claimed, 4 kept per identity: four forged hellos sent between the device's hello and its auth
 * ended the device's run (`422 unknown_session` at the auth), and a steady flood kept it from ever provisioning.
 * Pending runs are now bounded per claimed identity *and* source address: hellos from elsewhere never evict the
 * device's run, while hellos from the device's own address still do (the bound that keeps the table small).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { SessionTable, type SessionBase } from '../adapters/protocols/shared/session-table.ts';
import { fromBase64url, toBase64url } from '../domain/crypto/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { refusal } from './support/protocol-refusal.ts';

/** SessionTable's default bound of pending runs per claimed identity and peer (adapters/protocols/shared/session-table.ts). */
const PENDING_PER_CLAIMANT = 4;
/** Documentation addresses (RFC 5737): the device's, and an attacker's elsewhere. */
const DEVICE = '198.51.100.7';
const ELSEWHERE = '203.0.113.9';

let world: DeviceServiceWorld;
let victim: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  victim = await world.enrolledDevice('zz-victim', 'ed25519');
  // A service credential to associate with, provisioned before any flood.
  await provisionOverHttp(httpDeviceTransport(world.service.url), victim.device, {
    credentialId: 'zz-victim-svc', kind: 'ed25519', enrolmentFunction: victim.state.pinned.enrolmentFunction,
  });
}, 60_000);
afterAll(async () => {
  await world?.close();
});

const nonce = () => toBase64url(randomBytes(32));

/** One POST to a device route as if from `remoteAddress` (Fastify's `request.ip`). */
const postFrom = async (remoteAddress: string, url: string, payload: unknown) => {
  const reply = await world.service.service.app.inject({ method: 'POST', url, payload: payload as object, remoteAddress });
  return { status: reply.statusCode, body: reply.json<Record<string, unknown>>() };
};

/** `count` forged hellos from `remoteAddress`: the device's hello with fresh nonces, each answered with a challenge. */
const forge = async (remoteAddress: string, url: string, hello: Record<string, unknown>, nonceField: string, count: number) => {
  for (let i = 0; i < count; i++) {
    const forged = await postFrom(remoteAddress, url, { ...hello, [nonceField]: nonce(), sentAt: new Date().toISOString() });
    expect(forged.status).toBe(200);
  }
};

const provisioningClient = () => {
  const { id, publicKey } = victim.state.pinned.enrolmentFunction;
  return victim.device.provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } });
};

const registree = () =>
  victim.device.registree('zz-victim-svc', victim.device.cseId!, { id: victim.state.pinned.registrar.id, key: victim.state.pinned.registrar.publicKey });

describe('a flood of forged hellos in a device\'s name during its provisioning (SER-001)', () => {
  it('from another address never evicts the device\'s run: its auth and receipt are answered, the credential recorded', async () => {
    const session = await provisioningClient().start({ credentialKind: 'ed25519', credentialId: 'zz-victim-elsewhere' });
    try {
      const challenge = await postFrom(DEVICE, '/v1/enrolment/hello', session.hello);
      expect(challenge.status).toBe(200);
      await forge(ELSEWHERE, '/v1/enrolment/hello', session.hello, 'nodeNonce', 4 * PENDING_PER_CLAIMANT);

      const delivery = await postFrom(DEVICE, '/v1/enrolment/auth', await session.acceptChallenge(challenge.body));
      expect(delivery.status).toBe(200);
      const { receipt } = await session.acceptDelivery(delivery.body);
      const recorded = await postFrom(DEVICE, '/v1/enrolment/receipt', receipt);
      expect(recorded).toMatchObject({ status: 201, body: { credentialId: 'zz-victim-elsewhere', nodeId: 'zz-victim' } });
    } finally {
      await session.abort();
    }
  });

  it('from the device\'s own address still evicts its oldest pending run past the bound (unknown_session at the auth)', async () => {
    const session = await provisioningClient().start({ credentialKind: 'ed25519', credentialId: 'zz-victim-same' });
    try {
      const challenge = await postFrom(DEVICE, '/v1/enrolment/hello', session.hello);
      expect(challenge.status).toBe(200);
      await forge(DEVICE, '/v1/enrolment/hello', session.hello, 'nodeNonce', PENDING_PER_CLAIMANT);

      const refused = await postFrom(DEVICE, '/v1/enrolment/auth', await session.acceptChallenge(challenge.body));
      expect(refused).toMatchObject({ status: 422, body: { step: 'provisioning.auth', reason: 'unknown_session' } });
    } finally {
      await session.abort();
    }
  });
});

describe('a flood of forged hellos in a Registree\'s name during its handshake (SER-001)', () => {
  it('from another address never evicts the Registree\'s run: its finish is answered and the association recorded', async () => {
    await world.configure('zz-victim-sa', victim, 'zz-victim-svc');
    const url = '/v1/registrar/associations/zz-victim-sa';
    const handshake = await registree().start({ lifetimeSeconds: 3600, associationId: 'zz-victim-sa' });
    try {
      const challenge = await postFrom(DEVICE, `${url}/hello`, handshake.hello);
      expect(challenge.status).toBe(200);
      await forge(ELSEWHERE, `${url}/hello`, handshake.hello, 'registreeNonce', 4 * PENDING_PER_CLAIMANT);

      const { finish } = await handshake.acceptChallenge(challenge.body);
      const confirm = await postFrom(DEVICE, `${url}/finish`, finish);
      expect(confirm.status).toBe(201);
      await handshake.acceptConfirm(confirm.body);
      expect(String((await world.service.service.context.credence.engine.entity('association', 'zz-victim-sa')).snapshot.value)).toBe('associated');
    } finally {
      await handshake.abort();
    }
  });

  it('from the Registree\'s own address still evicts its oldest pending run past the bound (unknown_session at the finish)', async () => {
    await world.configure('zz-victim-sa2', victim, 'zz-victim-svc');
    const url = '/v1/registrar/associations/zz-victim-sa2';
    const handshake = await registree().start({ lifetimeSeconds: 3600, associationId: 'zz-victim-sa2' });
    try {
      const challenge = await postFrom(DEVICE, `${url}/hello`, handshake.hello);
      expect(challenge.status).toBe(200);
      await forge(DEVICE, `${url}/hello`, handshake.hello, 'registreeNonce', PENDING_PER_CLAIMANT);

      const { finish } = await handshake.acceptChallenge(challenge.body);
      const refused = await postFrom(DEVICE, `${url}/finish`, finish);
      expect(refused).toMatchObject({ status: 422, body: { step: 'association.finish', reason: 'unknown_session' } });
    } finally {
      await handshake.abort();
    }
  });
});

interface TestSession extends SessionBase {
  stage: 'challenged';
}

describe('the session table bounds pending runs per claimed identity and peer', () => {
  const now = new Date(Date.UTC(2030, 0, 1));
  const table = () => {
    const cleaned: string[] = [];
    const sessions = new SessionTable<TestSession>({ timeoutSeconds: 60, maxSessions: 100, maxPendingPerClaimant: 2, cleanup: async (s) => void cleaned.push(s.id) });
    const add = (id: string, claimant: string, peer?: string) => sessions.add('hello', now, { id, stage: 'challenged' }, { claimant, nonce: `n-${id}`, peer });
    const stillThere = (id: string) => sessions.step(id, 'auth', 'challenged', now, async () => true);
    return { sessions, cleaned, add, stillThere };
  };

  it('hellos from another peer evict only their own; the device\'s run survives any number of them', async () => {
    const { cleaned, add, stillThere } = table();
    await add('device', 'node-a', DEVICE);
    for (let i = 0; i < 10; i++) await add(`forged-${i}`, 'node-a', ELSEWHERE);
    expect(cleaned).not.toContain('device');
    expect(await stillThere('device')).toBe(true);
  });

  it('hellos from the same peer evict its oldest past the bound, as do hellos with no peer among themselves', async () => {
    const { cleaned, add, stillThere } = table();
    await add('device', 'node-a', DEVICE);
    await add('in-process', 'node-a');
    await add('same-1', 'node-a', DEVICE);
    await add('same-2', 'node-a', DEVICE);
    expect(cleaned).toEqual(['device']);
    expect(await refusal(() => stillThere('device'))).toEqual({ step: 'auth', reason: 'unknown_session' });
    // With no peer known (an in-process caller), the bound is per claimed identity alone; peers do not touch it.
    await add('in-process-2', 'node-a');
    await add('in-process-3', 'node-a');
    expect(cleaned).toEqual(['device', 'in-process']);
  });
});
