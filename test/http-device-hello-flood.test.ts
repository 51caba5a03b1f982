/**
 * Issue 12 with issue 11 item 4 (SER-001): before a device has authenticated, the server keeps no state an
 * attacker can exhaust. An unauthenticated sender floods the device routes over HTTP with hellos built from public
 * facts only (a Node-ID, a Registree id, a credential fingerprint), fresh nonces each time: the Enrolment
 * Function's and the Registrar's session tables stay within their bound per claimed identity, hellos for unknown
 * nodes leave one decoy run per node (never recorded), hellos for unconfigured associations nothing at all, and the
 * legitimate device then provisions and associates.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { associateOverHttp, httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { fromBase64url, toBase64url } from '../domain/crypto/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

/** SessionTable's default bound of pending runs per claimed identity (adapters/protocols/shared/session-table.ts). */
const PENDING_PER_CLAIMANT = 4;
/**
 * Hellos per flood: six times the bound above, which is what a flood must overrun (more only costs time); far below
 * the per-address rate limit (1,200 a window) and the table's 10,000, which these four floods must not reach.
 */
const FLOOD = 6 * PENDING_PER_CLAIMANT;

let world: DeviceServiceWorld;
let sim: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  sim = await world.enrolledDevice('meter-f', 'ed25519');
}, 60_000);
afterAll(async () => {
  await world?.close();
});

const nonce = () => toBase64url(randomBytes(32));

/** Posts `count` hellos made by `make`; the statuses seen, counted. */
const flood = async (count: number, path: (i: number) => string, make: (i: number) => unknown): Promise<Record<number, number>> => {
  const statuses: Record<number, number> = {};
  for (let i = 0; i < count; i++) {
    const { status } = await world.post(path(i), make(i));
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  return statuses;
};

describe('a hello flood over HTTP (issue 11 item 4)', () => {
  it('the Enrolment Function keeps at most its bound of pending runs for the claimed node, one decoy run per unknown node; the node then provisions', async () => {
    const { id, publicKey } = sim.state.pinned.enrolmentFunction;
    const client = sim.device.provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } });
    const template = (await client.start({ credentialKind: 'ed25519', credentialId: 'flood-svc' })).hello;
    const ef = (await world.infrastructure()).enrolmentFunction;
    const before = ef.sessionCount;

    const claimed = await flood(FLOOD, () => '/v1/enrolment/hello', () => ({ ...template, nodeNonce: nonce(), sentAt: new Date().toISOString() }));
    expect(claimed).toEqual({ 200: FLOOD });
    expect(ef.sessionCount - before).toBeLessThanOrEqual(PENDING_PER_CLAIMANT);

    // Unknown nodes get decoy challenges (adapters/protocols/shared/decoy.ts), one pending run each, as many as the
    // nodes claimed: a refusal would tell which nodes exist. They cannot end the claimed node's run (SessionTable).
    const unknown = await flood(FLOOD, () => '/v1/enrolment/hello', (i) => ({ ...template, nodeId: `ghost-${i}`, nodeNonce: nonce(), sentAt: new Date().toISOString() }));
    expect(unknown).toEqual({ 200: FLOOD });
    expect(ef.sessionCount - before).toBeLessThanOrEqual(PENDING_PER_CLAIMANT + FLOOD);

    const { recorded } = await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, { credentialId: 'flood-svc', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction });
    expect(recorded.credentialId).toBe('flood-svc');
  }, 60_000);

  it('the Registrar keeps at most its bound of pending runs for the claimed Registree; the Registree then associates', async () => {
    await world.configure('flood-sa', sim, 'flood-svc');
    const registree = sim.device.registree('flood-svc', sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey });
    const template = (await registree.start({ lifetimeSeconds: 3600, associationId: 'flood-sa' })).hello;
    const registrar = (await world.infrastructure()).registrar;
    const before = registrar.sessionCount;

    const claimed = await flood(FLOOD, () => '/v1/registrar/associations/flood-sa/hello', () => ({ ...template, registreeNonce: nonce(), sentAt: new Date().toISOString() }));
    expect(claimed).toEqual({ 200: FLOOD });
    expect(registrar.sessionCount - before).toBeLessThanOrEqual(PENDING_PER_CLAIMANT);

    const unconfigured = await flood(FLOOD, (i) => `/v1/registrar/associations/ghost-${i}/hello`, () => ({ ...template, registreeNonce: nonce(), sentAt: new Date().toISOString() }));
    expect(unconfigured).toEqual({ 422: FLOOD });
    expect(registrar.sessionCount - before).toBeLessThanOrEqual(PENDING_PER_CLAIMANT);

    const outcome = await associateOverHttp(httpDeviceTransport(world.service.url), sim.device, {
      associationId: 'flood-sa', credentialId: 'flood-svc', lifetimeSeconds: 3600, registrar: sim.state.pinned.registrar,
    });
    expect(outcome.registreeId).toBe(sim.device.cseId);
    expect(String((await world.service.service.context.credence.engine.entity('association', 'flood-sa')).snapshot.value)).toBe('associated');
  }, 60_000);
});
