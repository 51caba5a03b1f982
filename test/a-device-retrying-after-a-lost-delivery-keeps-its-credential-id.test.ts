import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_PATHS, httpDeviceTransport, provisionOverHttp, type DeviceTransport } from '../adapters/client/device/index.ts';
import { streamIdOf } from '../domain/streams.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

// Review 140: since review 138 a credential id is claimed at auth by the run admitted, until it is recorded, refused
// or timed out. A device whose delivery was lost on the way back retried with the same request, and its new run was
// refused for up to the session timeout as an id in use ("choose another id"), its earlier run still holding the claim:
// following the advice abandoned a good id. The same node's earlier run, its receipt not accepted, is ended now (its
// keys discarded as a refused run's are) and the retry admitted; another node's run still holds the id.

let world: DeviceServiceWorld;
let sim: SimulatedDevice;
let other: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  sim = await world.enrolledDevice('retry-1', 'ed25519');
  other = await world.enrolledDevice('retry-2', 'ed25519');
}, 120_000);
afterAll(() => world?.close());

/** The device's transport, the answer to its first auth lost (the server handled it: the run waits for its receipt). */
const deliveryLostOnce = (): DeviceTransport => {
  const http = httpDeviceTransport(world.service.url);
  let lost = false;
  return {
    get: (path) => http.get(path),
    post: async (path, body) => {
      const answer = await http.post(path, body);
      if (path === DEVICE_PATHS.enrolmentStep('auth') && !lost) {
        lost = true;
        throw new Error('connection reset');
      }
      return answer;
    },
  };
};

describe('a device retrying after its delivery was lost', () => {
  it.each(['psk256', 'ed25519'] as const)('%s: the retry with the same id is recorded, and nothing of the first run is left', async (kind) => {
    const credentialId = `retry-1-${kind}`;
    const transport = deliveryLostOnce();
    const request = { credentialId, kind, enrolmentFunction: sim.state.pinned.enrolmentFunction };
    await expect(provisionOverHttp(transport, sim.device, request)).rejects.toThrow('connection reset');

    const recorded = await provisionOverHttp(transport, sim.device, request);

    const { engine } = world.service.service.context.credence;
    const credential = await engine.entity('credential', credentialId);
    expect(credential.snapshot.value).toBe('enrolled');
    expect((credential.snapshot.context as { fingerprint?: string }).fingerprint).toBe(recorded.recorded.fingerprint);
    const { registry } = (await world.infrastructure()).o;
    expect(registry.live(streamIdOf('credential', credentialId), 'psk')).toHaveLength(kind === 'psk256' ? 1 : 0);
    expect(registry.pending()).toEqual([]);
    expect(registry.keyPairRuns()).toEqual([]);
  }, 60_000);

  it("does not end another node's run of the id: that node is refused as an id in use", async () => {
    const credentialId = 'retry-shared-psk';
    await expect(provisionOverHttp(deliveryLostOnce(), sim.device, { credentialId, kind: 'psk256', enrolmentFunction: sim.state.pinned.enrolmentFunction })).rejects.toThrow(
      'connection reset',
    );
    const refused = provisionOverHttp(httpDeviceTransport(world.service.url), other.device, { credentialId, kind: 'psk256', enrolmentFunction: other.state.pinned.enrolmentFunction });
    await expect(refused).rejects.toMatchObject({ problem: { status: 400, errors: [{ path: 'credentialId', rule: 'unused' }] } });
    // The first node's retry still gets its id.
    const recorded = await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, { credentialId, kind: 'psk256', enrolmentFunction: sim.state.pinned.enrolmentFunction });
    expect(recorded.recorded.credentialId ?? credentialId).toBe(credentialId);
    expect((await world.service.service.context.credence.engine.entity('credential', credentialId)).snapshot.value).toBe('enrolled');
  }, 60_000);
});
