/**
 * Review 238 (medium): a copy of a device's receipt that got in first (an intermediary resending the POST, anyone
 * replaying it) had the credential recorded, and the device's own receipt was then refused `422 unknown_session`,
 * which the client counted as "nothing recorded": it destroyed the key of a credential the server held `enrolled`,
 * its id burned. The same for the association finish: the copy got 201, the Registree's own `unknown_session`, and it
 * kept no keys. Now a repeat of the receipt or finish that ended its run, the same message, is answered as it was
 * (same status and body) until the run's timeout would have passed; anything else for that session is
 * `unknown_session`, as before. And the device no longer takes `unknown_session` at those steps for nothing recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  associateOverHttp,
  DEVICE_PATHS,
  FinishOutcomeUnknown,
  httpDeviceTransport,
  provisionOverHttp,
  ReceiptOutcomeUnknown,
  type DeviceTransport,
} from '../adapters/client/device/index.ts';
import { ProblemResponse } from '../adapters/client/http.ts';
import { refusedForGood } from '../adapters/client/refused-for-good.ts';
import { AnsweredRuns } from '../adapters/protocols/procedures/answered-runs.ts';
import { protocolFailure } from '../domain/protocols/protocol.ts';
import { refusal } from './support/protocol-refusal.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { heldBy, provisionWith } from './support/device-provisioning.ts';

let world: DeviceServiceWorld;
beforeAll(async () => {
  world = await deviceServiceWorld();
}, 120_000);
afterAll(() => world?.close());

const RECEIPT = DEVICE_PATHS.enrolmentStep('receipt');
const isFinish = (path: string) => path.endsWith('/finish');

type Answer = { status: number; body: unknown };
const answerOf = async (post: Promise<unknown>): Promise<Answer> =>
  post.then(
    (body) => ({ status: 201, body }),
    (error: unknown) => (error instanceof ProblemResponse ? { status: error.status, body: error.problem } : Promise.reject(error)),
  );

/** A transport on the path that sends a copy of the message at `at` before the device's own (`together`: both at once). */
const copying = (at: (path: string) => boolean, together = false) => {
  const http = httpDeviceTransport(world.service.url);
  const seen: { copy?: Answer; own?: Answer; sent?: unknown } = {};
  const transport: DeviceTransport = {
    get: (path) => http.get(path),
    post: async (path, body) => {
      if (!at(path)) return http.post(path, body);
      seen.sent = body;
      const copy = answerOf(http.post(path, structuredClone(body)));
      if (!together) seen.copy = await copy;
      const own = answerOf(http.post(path, body));
      if (together) seen.copy = await copy;
      seen.own = await own;
      if (seen.own.status !== 201) throw new ProblemResponse(seen.own.status, seen.own.body as never);
      return seen.own.body;
    },
  };
  return { transport, seen };
};

/** A transport that forwards the message at `at` (the service answers it) and then answers the device `unknown_session`. */
const toldUnknownSession = (at: (path: string) => boolean, step: string): DeviceTransport => {
  const http = httpDeviceTransport(world.service.url);
  return {
    get: (path) => http.get(path),
    post: async (path, body) => {
      const answer = await http.post(path, body);
      if (!at(path)) return answer;
      throw new ProblemResponse(422, { type: 'https://credence.dev/problems/protocol', title: 'Protocol refusal', status: 422, step, reason: 'unknown_session', detail: `${step} rejected: unknown_session` });
    },
  };
};

const recorded = async (credentialId: string) =>
  (await world.service.service.context.credence.engine.entity('credential', credentialId)).snapshot as { value: unknown; context: { fingerprint?: string } | null };

describe('a receipt sent twice', () => {
  it.each([
    ['the copy first', false, 'rt-first'],
    ['the copy and the device\'s own at once', true, 'rt-together'],
  ] as const)('%s: both are answered 201 with the same body, and the device keeps the key the server recorded', async (_case, together, nodeId) => {
    const sim = await world.enrolledDevice(nodeId, 'ed25519');
    const { transport, seen } = copying((path) => path === RECEIPT, together);
    const { outcome, made } = await provisionWith(sim, `${nodeId}-svc`, transport);
    expect(outcome).toBeUndefined();
    expect(seen.copy).toEqual(seen.own);
    expect(seen.own?.status).toBe(201);
    expect((await recorded(`${nodeId}-svc`)).context?.fingerprint).toBe(made.credential.fingerprint);
    expect(await heldBy(sim, made.handle)).toBe(true);
    expect(sim.device.credentials.get(`${nodeId}-svc`)?.descriptor.fingerprint).toBe(made.credential.fingerprint);
  }, 60_000);

  it('anything else for the ended run is unknown_session, as before', async () => {
    const sim = await world.enrolledDevice('rt-other', 'ed25519');
    const { transport, seen } = copying((path) => path === RECEIPT);
    expect((await provisionWith(sim, 'rt-other-svc', transport)).outcome).toBeUndefined();
    const receipt = seen.sent as { credentialProof: string };
    const other = { ...receipt, credentialProof: `${receipt.credentialProof[0] === 'A' ? 'B' : 'A'}${receipt.credentialProof.slice(1)}` };
    expect(await world.post(RECEIPT, other)).toMatchObject({ status: 422, body: { step: 'provisioning.receipt', reason: 'unknown_session' } });
    expect(await world.post(RECEIPT, receipt)).toMatchObject({ status: 201, body: seen.own!.body as object });
  }, 60_000);
});

describe('an association finish sent twice', () => {
  it('the copy first: both are answered 201 with the same confirm, and the Registree keeps the session keys', async () => {
    const sim = await world.enrolledDevice('ft-first', 'ed25519');
    await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, {
      credentialId: 'ft-first-svc', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction,
    });
    await world.configure('ft-first-sa', sim, 'ft-first-svc');
    const { transport, seen } = copying(isFinish);
    const outcome = await associateOverHttp(transport, sim.device, {
      associationId: 'ft-first-sa', credentialId: 'ft-first-svc', lifetimeSeconds: 3600, registrar: sim.state.pinned.registrar,
    });
    expect(seen.copy).toEqual(seen.own);
    expect(await heldBy(sim, outcome.sessionKeys.send)).toBe(true);
    expect(await heldBy(sim, outcome.sessionKeys.receive)).toBe(true);
  }, 60_000);
});

describe('the device told unknown_session at its last message', () => {
  it('the receipt: the outcome is not known, and the key is kept for the device to settle', async () => {
    const sim = await world.enrolledDevice('ru-receipt', 'ed25519');
    const { outcome, made } = await provisionWith(sim, 'ru-receipt-svc', toldUnknownSession((path) => path === RECEIPT, 'provisioning.receipt'));
    expect(outcome).toBeInstanceOf(ReceiptOutcomeUnknown);
    expect((outcome as ReceiptOutcomeUnknown).handle).toBe(made.handle);
    expect(await heldBy(sim, made.handle)).toBe(true);
    expect((await recorded('ru-receipt-svc')).context?.fingerprint).toBe(made.credential.fingerprint);
  }, 60_000);

  it('the finish: no refusal for good, but the outcome not known (a lost confirm\'s path)', async () => {
    const sim = await world.enrolledDevice('ru-finish', 'ed25519');
    await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, {
      credentialId: 'ru-finish-svc', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction,
    });
    await world.configure('ru-finish-sa', sim, 'ru-finish-svc');
    const error = await associateOverHttp(toldUnknownSession(isFinish, 'association.finish'), sim.device, {
      associationId: 'ru-finish-sa', credentialId: 'ru-finish-svc', lifetimeSeconds: 3600, registrar: sim.state.pinned.registrar,
    }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(FinishOutcomeUnknown);
    expect(refusedForGood(error)).toBe(false);
  }, 60_000);
});

describe('the answers kept (AnsweredRuns)', () => {
  const clock = { now: 1_000_000 };
  const watched = (runs: AnsweredRuns<string>, sessionId: string, message: unknown, expiresAtMs: number, value: string) =>
    runs.answer('provisioning.receipt', sessionId, message, async (watch) => {
      watch.admitted(expiresAtMs);
      return value;
    });

  it('until the run\'s timeout would have passed, then unknown_session is the run\'s word again', async () => {
    const runs = new AnsweredRuns<string>(() => new Date(clock.now));
    expect(await watched(runs, 's1', { a: 1 }, clock.now + 120_000, 'first')).toBe('first');
    expect(await runs.answer('provisioning.receipt', 's1', { a: 1 }, () => Promise.reject(new Error('not asked')))).toBe('first');
    expect(await refusal(() => runs.answer('provisioning.receipt', 's1', { a: 2 }, () => Promise.reject(new Error('not asked'))))).toEqual({
      step: 'provisioning.receipt', reason: 'unknown_session',
    });
    clock.now += 120_000;
    expect(await runs.answer('provisioning.receipt', 's1', { a: 1 }, async () => 'asked again')).toBe('asked again');
  });

  it('at most maxRuns, the oldest forgotten first; a refusal that keeps the run is not kept', async () => {
    const runs = new AnsweredRuns<string>(() => new Date(clock.now), 2);
    for (const id of ['s1', 's2', 's3']) await watched(runs, id, { id }, clock.now + 60_000, id);
    expect(await runs.answer('provisioning.receipt', 's1', { id: 's1' }, async () => 'asked again')).toBe('asked again');
    expect(await runs.answer('provisioning.receipt', 's3', { id: 's3' }, () => Promise.reject(new Error('not asked')))).toBe('s3');
    const kept = runs.answer('provisioning.receipt', 's9', { junk: true }, async (watch) => {
      watch.admitted(clock.now + 60_000);
      watch.kept();
      throw new Error('bad_signature');
    });
    await expect(kept).rejects.toThrow('bad_signature');
    expect(await runs.answer('provisioning.receipt', 's9', { genuine: true }, async () => 'recorded')).toBe('recorded');
  });

  it('a refusal that ended the run (a store failing, a third junk proof) is not kept: a repeat is unknown_session, not the refusal again (review 244)', async () => {
    const runs = new AnsweredRuns<string>(() => new Date(clock.now));
    const ended = runs.answer('provisioning.receipt', 's1', { a: 1 }, async (watch) => {
      watch.admitted(clock.now + 120_000);
      throw new Error('store unavailable');
    });
    await expect(ended).rejects.toThrow('store unavailable');
    expect(await refusal(() => runs.answer('provisioning.receipt', 's1', { a: 1 }, () => Promise.reject(protocolFailure('provisioning.receipt', 'unknown_session')))))
      .toEqual({ step: 'provisioning.receipt', reason: 'unknown_session' });
  });
});
