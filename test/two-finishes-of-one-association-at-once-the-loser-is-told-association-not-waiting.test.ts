/**
 * Review 224 (low): two finishes for one association at the same time (two runs of its Registree, a device retrying
 * after a client timeout while its first finish is being recorded) both passed the check that the association still
 * waits, which comes before the keys are derived; the engine then refused the loser's record, and the device was told
 * the engine's `409 illegal_transition` instead of the documented `422 association_not_waiting` naming the state. Now
 * the loser, whose proof verified, is told that, as a finish arriving after the record is (`refusalToHolder`); its keys
 * are still destroyed and only the winner's `AssociationEstablished` is appended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { streamIdOf } from '../domain/streams.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

let world: DeviceServiceWorld;
let sim: SimulatedDevice;
const RUNS = 6;
beforeAll(async () => {
  world = await deviceServiceWorld();
  sim = await world.enrolledDevice('meter-twin-finish', 'ed25519');
  await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, {
    credentialId: 'svc-twin-finish', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction,
  });
  for (let i = 0; i < RUNS; i++) await world.configure(`sa-twin-${i}`, sim, 'svc-twin-finish');
}, 60_000);
afterAll(async () => {
  await world?.close();
});

/** Every key the Registrar's owner holds in its Secure Environment now. */
const heldKeys = async (): Promise<Set<string>> => {
  const { se } = (await world.infrastructure()).o;
  const held = new Set<string>();
  let after: string | undefined;
  do {
    const page = await se.listKeys({ limit: 1000, ...(after !== undefined ? { after: after as never } : {}) });
    for (const key of page.keys) held.add(key.handle);
    after = page.next;
  } while (after !== undefined);
  return held;
};

const path = (associationId: string, step: 'hello' | 'finish') => `/v1/registrar/associations/${associationId}/${step}`;
const registree = () =>
  sim.device.registree('svc-twin-finish', sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey });

describe('two finishes of one association at the same time', () => {
  it('the winner gets its confirm, the loser 422 association_not_waiting naming the state; one event, the loser\'s keys destroyed', async () => {
    const infra = await world.infrastructure();
    for (let i = 0; i < RUNS; i++) {
      const associationId = `sa-twin-${i}`;
      const runs = [await registree().start({ lifetimeSeconds: 3600, associationId }), await registree().start({ lifetimeSeconds: 3600, associationId })];
      try {
        const finishes = [];
        for (const run of runs) finishes.push((await run.acceptChallenge((await world.post(path(associationId, 'hello'), run.hello)).body)).finish);
        const head = await world.head();
        const before = await heldKeys();

        const answers = await Promise.all(finishes.map((finish) => world.post(path(associationId, 'finish'), finish)));

        const statuses = answers.map((a) => a.status).sort();
        expect(statuses, `run ${i}: ${JSON.stringify(answers.map((a) => a.body))}`).toEqual([201, 422]);
        const loser = answers.find((a) => a.status === 422)!;
        expect(loser.body).toMatchObject({ type: 'https://credence.dev/problems/protocol', step: 'association.finish', reason: 'association_not_waiting' });
        expect(String(loser.body['detail'])).toContain(`association ${associationId} is associated`);
        const stream = streamIdOf('association', associationId);
        expect((await world.streamsWrittenSince(head)).filter((s) => s === stream)).toHaveLength(1);
        // Every key the two finishes made is gone but the winner's two session keys, bound to the association.
        const kept = infra.o.registry.live(stream, 'session');
        expect(kept).toHaveLength(2);
        const made = [...(await heldKeys())].filter((h) => !before.has(h));
        expect(made.sort(), `run ${i}`).toEqual([...kept].sort());
        expect(infra.registrar.sessionCount).toBe(0);
      } finally {
        for (const run of runs) await run.abort();
      }
    }
  }, 60_000);
});
