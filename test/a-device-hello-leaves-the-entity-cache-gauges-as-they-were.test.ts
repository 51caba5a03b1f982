/**
 * Review 33 (seeds 002 and 004 unobservability; SER-001): the public /metrics told a stranger what the decoy challenges
 * hide. An unauthenticated hello was answered 200 with a challenge of one shape whatever its Node-ID or association
 * was, but its lookups went through the entity cache, whose gauges moved by what they found: an unknown node added one
 * entry of 723 B, a usable node two of 2,521 B, a revoked node two of 2,811 B; an unknown association one, a
 * configured one four (hits and misses moved too). A hello's lookups now read past the cache (`engine.peek`): after a
 * restart, with the cache empty, every one of these hellos leaves entries, bytes, hits and misses as they were.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { fromBase64url, toBase64url } from '../domain/crypto/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { shape } from './support/protocol-answers.ts';

const GAUGES = ['credence_entity_cache_entries', 'credence_entity_cache_bytes', 'credence_entity_cache_hits_total', 'credence_entity_cache_misses_total'];

let world: DeviceServiceWorld;
let usableNode: SimulatedDevice;
let revokedNode: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  // Node-IDs of one length: a challenge echoes the Node-ID, which a shape compares by length
  usableNode = await world.enrolledDevice('zz-gauge-ok1', 'ed25519');
  revokedNode = await world.enrolledDevice('zz-gauge-rev', 'ed25519');
  await provisionOverHttp(httpDeviceTransport(world.service.url), usableNode.device, {
    credentialId: 'zz-gauge-svc', kind: 'ed25519', enrolmentFunction: usableNode.state.pinned.enrolmentFunction,
  });
  await world.configure('zz-gauge-sa', usableNode, 'zz-gauge-svc');
  await operatorCommand(world.operator, 'revokeNode', { nodeId: 'zz-gauge-rev', reason: 'cessationOfOperation' });
  // A restart: the cache starts empty, so anything a hello's lookups kept would show. Then the service's own start-up
  // work (projections catching up, reactions found done) is let finish: the gauges are read once they hold still.
  await world.service.restart();
  await gaugesAtRest();
}, 60_000);
afterAll(async () => {
  await world?.close();
});

/** The entity cache's gauges as anyone reads them on the public /metrics. */
const gauges = async (): Promise<Record<string, number>> => {
  const response = await fetch(`${world.service.url}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  const values: Record<string, number> = {};
  for (const name of GAUGES) {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    if (line === undefined) throw new Error(`/metrics has no ${name}`);
    values[name] = Number(line.slice(name.length + 1));
  }
  return values;
};

/** Once two readings 300 ms apart agree: what the service's start-up read into the cache is in it by then. */
const gaugesAtRest = async (): Promise<void> => {
  let last = await gauges();
  for (let round = 0; round < 30; round++) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = await gauges();
    if (JSON.stringify(now) === JSON.stringify(last)) return;
    last = now;
  }
  throw new Error('the entity cache gauges kept moving with no request');
};

/** The gauges read before and after `hello`, and its answer. */
const observed = async (hello: () => Promise<{ status: number; body: Record<string, unknown> }>) => {
  const before = await gauges();
  const answer = await hello();
  return { before, after: await gauges(), answer };
};

/** A provisioning hello as `node` sends it (not sent yet), and its run's end. */
const provisioningHelloOf = async (node: SimulatedDevice, credentialId: string) => {
  const { id, publicKey } = node.state.pinned.enrolmentFunction;
  return node.device
    .provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } })
    .start({ credentialKind: 'ed25519', credentialId });
};

/** An association hello of the usable node's service credential, naming `associationId`. */
const associationHelloOf = (associationId: string) =>
  usableNode.device
    .registree('zz-gauge-svc', usableNode.device.cseId!, { id: usableNode.state.pinned.registrar.id, key: usableNode.state.pinned.registrar.publicKey })
    .start({ lifetimeSeconds: 3600, associationId });

describe('an unauthenticated device hello, after a restart (the entity cache empty)', () => {
  it('leaves the entity cache gauges as they were for an unknown, a usable and a revoked node, and still answers each with a challenge of one shape', async () => {
    const usableSession = await provisioningHelloOf(usableNode, 'zz-gauge-a');
    const usable = await observed(() => world.post('/v1/enrolment/hello', usableSession.hello));
    const revokedSession = await provisioningHelloOf(revokedNode, 'zz-gauge-b');
    const revoked = await observed(() => world.post('/v1/enrolment/hello', revokedSession.hello));
    const templateSession = await provisioningHelloOf(usableNode, 'zz-gauge-c');
    const unknown = await observed(() =>
      world.post('/v1/enrolment/hello', { ...templateSession.hello, nodeId: 'zz-gauge-nob', nodeNonce: toBase64url(randomBytes(32)) }),
    );
    for (const { before, after } of [usable, revoked, unknown]) expect(after).toEqual(before);
    expect(usable.answer.status).toBe(200);
    for (const other of [revoked, unknown]) {
      expect(other.answer.status).toBe(200);
      expect(shape(other.answer.body)).toEqual(shape(usable.answer.body));
    }
    for (const session of [usableSession, revokedSession, templateSession]) await session.abort();
  });

  it('leaves the entity cache gauges as they were for an unknown and a configured association, and still answers each with a challenge of one shape', async () => {
    const configuredHandshake = await associationHelloOf('zz-gauge-sa');
    const configured = await observed(() => world.post('/v1/registrar/associations/zz-gauge-sa/hello', configuredHandshake.hello));
    const unknownHandshake = await associationHelloOf('zz-gauge-no');
    const unknown = await observed(() => world.post('/v1/registrar/associations/zz-gauge-no/hello', unknownHandshake.hello));
    expect(configured.after).toEqual(configured.before);
    expect(unknown.after).toEqual(unknown.before);
    expect(configured.answer.status).toBe(200);
    expect(unknown.answer.status).toBe(200);
    expect(shape(unknown.answer.body)).toEqual(shape(configured.answer.body));
    for (const handshake of [configuredHandshake, unknownHandshake]) await handshake.abort();
  });
});
