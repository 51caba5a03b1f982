/**
 * Review 319 (low): refusals are not signed, so someone on the path could forward a device's receipt, let the server
 * record the credential, and answer the device a Credence problem of its own making (a 422 protocol refusal, a 409
 * illegal_transition): `credence device` took it for nothing recorded and destroyed the new key, leaving the server
 * holding an enrolled credential nobody has the key for. Now a refusal of the receipt is never taken for that: the
 * device sends the same receipt once more (the server answers a recorded run's repeat with its provisioning.recorded,
 * which the device checks by its certificate proof) and adopts the credential; failing that, the outcome is unknown and
 * the key kept. The association finish likewise sends its finish once more before taking a refusal, so a forged one
 * does not cost the Registree the session keys of an association the Registrar recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  associateOverHttp,
  DEVICE_PATHS,
  httpDeviceTransport,
  provisionOverHttp,
  ReceiptOutcomeUnknown,
  type DeviceTransport,
} from '../adapters/client/device/index.ts';
import { ProblemResponse } from '../adapters/client/http.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { heldBy, provisionWith } from './support/device-provisioning.ts';

let world: DeviceServiceWorld;
beforeAll(async () => {
  world = await deviceServiceWorld();
}, 120_000);
afterAll(() => world?.close());

const RECEIPT = DEVICE_PATHS.enrolmentStep('receipt');
const isFinish = (path: string) => path.endsWith('/finish');

const PROTOCOL_REFUSAL = (step: string) =>
  new ProblemResponse(422, { type: 'https://credence.dev/problems/protocol', title: 'Protocol refusal', status: 422, step, reason: 'bad_signature', detail: `${step} rejected: bad_signature` });
const ILLEGAL_TRANSITION = () =>
  new ProblemResponse(409, { type: 'https://credence.dev/problems/illegal_transition', title: 'Illegal transition', status: 409, streamId: 'node:x', state: 'revoked', allowed: [] });

/** Forwards every message; the first `forged` answers at `at` are replaced by `refusal` once the server has answered. */
const forging = (at: (path: string) => boolean, refusal: () => ProblemResponse, forged = Number.POSITIVE_INFINITY) => {
  const http = httpDeviceTransport(world.service.url);
  const seen = { sent: 0 };
  const transport: DeviceTransport = {
    get: (path) => http.get(path),
    post: async (path, body) => {
      const answer = await http.post(path, body);
      if (!at(path)) return answer;
      seen.sent++;
      if (seen.sent <= forged) throw refusal();
      return answer;
    },
  };
  return { transport, seen };
};

const recordedFingerprint = async (credentialId: string) =>
  ((await world.service.service.context.credence.engine.entity('credential', credentialId)).snapshot.context as { fingerprint?: string } | null)?.fingerprint;

describe('a forged Credence refusal of the receipt the server recorded', () => {
  it.each([
    ['422 protocol', PROTOCOL_REFUSAL('provisioning.receipt'), 'fr-422'],
    ['409 illegal_transition', ILLEGAL_TRANSITION(), 'fr-409'],
  ] as const)('%s, once: the device sends the same receipt again, is answered recorded, and keeps the credential', async (_case, refusal, nodeId) => {
    const sim = await world.enrolledDevice(nodeId, 'ed25519');
    const { transport, seen } = forging((path) => path === RECEIPT, () => refusal, 1);
    const { outcome, made } = await provisionWith(sim, `${nodeId}-svc`, transport);
    expect(outcome).toBeUndefined();
    expect(seen.sent).toBe(2);
    expect(await recordedFingerprint(`${nodeId}-svc`)).toBe(made.credential.fingerprint);
    expect(await heldBy(sim, made.handle)).toBe(true);
    expect(sim.device.credentials.get(`${nodeId}-svc`)?.descriptor.fingerprint).toBe(made.credential.fingerprint);
  }, 60_000);

  it('to every copy: the outcome is unknown and the device keeps the key the server recorded', async () => {
    const sim = await world.enrolledDevice('fr-all', 'ed25519');
    const { transport } = forging((path) => path === RECEIPT, PROTOCOL_REFUSAL.bind(undefined, 'provisioning.receipt'));
    const { outcome, made } = await provisionWith(sim, 'fr-all-svc', transport);
    expect(outcome).toBeInstanceOf(ReceiptOutcomeUnknown);
    expect((outcome as ReceiptOutcomeUnknown).handle).toBe(made.handle);
    expect((outcome as ReceiptOutcomeUnknown).cause).toBeInstanceOf(ProblemResponse);
    expect(await recordedFingerprint('fr-all-svc')).toBe(made.credential.fingerprint);
    expect(await heldBy(sim, made.handle)).toBe(true);
    expect(sim.device.credentials.has('fr-all-svc')).toBe(false);
  }, 60_000);
});

describe('a forged Credence refusal of the finish the Registrar recorded', () => {
  it('once: the Registree sends the same finish again, its confirm verifies, and it keeps the session keys', async () => {
    const sim = await world.enrolledDevice('ff-once', 'ed25519');
    await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, {
      credentialId: 'ff-once-svc', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction,
    });
    await world.configure('ff-once-sa', sim, 'ff-once-svc');
    const { transport, seen } = forging(isFinish, PROTOCOL_REFUSAL.bind(undefined, 'association.finish'), 1);
    const outcome = await associateOverHttp(transport, sim.device, {
      associationId: 'ff-once-sa', credentialId: 'ff-once-svc', lifetimeSeconds: 3600, registrar: sim.state.pinned.registrar,
    });
    expect(seen.sent).toBe(2);
    expect(await heldBy(sim, outcome.sessionKeys.send)).toBe(true);
    expect(await heldBy(sim, outcome.sessionKeys.receive)).toBe(true);
  }, 60_000);
});
