/**
 * Review 333: since review 319 a device kept its new key on every refusal of its receipt (refusals were unsigned, so one
 * could be made up on the path once the server recorded the receipt). A receipt the server really refused (the node
 * revoked since its auth, a proof that does not verify) then left the key pending, and `credence device` provisioned
 * nothing else until someone with an operator token settled it. The Enrolment Function now signs its final refusal of a
 * receipt (`refusalProof`: its pinned key over the run's transcript hash, the receipt's hash and the problem's code,
 * domain/protocols/receipt-refusal.ts): such a refusal destroys the key, and the device may provision again at once.
 * A refusal without that proof, with one under another key or of another run, keeps the key as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { DEVICE_PATHS, httpDeviceTransport, provisionOverHttp, ReceiptOutcomeUnknown, type DeviceTransport } from '../adapters/client/device/index.ts';
import { ProblemResponse } from '../adapters/client/http.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import { utf8 } from '../domain/crypto/bytes.ts';
import { generateSigningKey, sign } from '../domain/crypto/signatures.ts';
import { receiptHash, receiptRefusalProofInput, type NodeProvisioningResult, type ProvisioningReceipt } from '../domain/protocols/index.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { heldBy, provisionWith } from './support/device-provisioning.ts';

let world: DeviceServiceWorld;
beforeAll(async () => {
  world = await deviceServiceWorld();
}, 120_000);
afterAll(() => world?.close());

const RECEIPT = DEVICE_PATHS.enrolmentStep('receipt');

const recordedFingerprint = async (credentialId: string) =>
  ((await world.service.service.context.credence.engine.entity('credential', credentialId)).snapshot.context as { fingerprint?: string } | null)?.fingerprint;

/** Forwards every message, counting the receipts, `beforeReceipt` run before each is sent. */
const counting = (beforeReceipt?: (n: number) => Promise<void>) => {
  const http = httpDeviceTransport(world.service.url);
  const seen = { receipts: 0 };
  const transport: DeviceTransport = {
    get: (path) => http.get(path),
    post: async (path, body) => {
      if (path === RECEIPT) {
        seen.receipts++;
        await beforeReceipt?.(seen.receipts);
      }
      return http.post(path, body);
    },
  };
  return { transport, seen };
};

/** The device's own proof of its new credential in the receipt, spoiled as it is made (a fault of the device's). */
const spoilingCredentialProof = (sim: SimulatedDevice): (() => void) => {
  const se = sim.device.se;
  const label = utf8('credence/provisioning/v1/node/receipt-statement-credential\0');
  const spoiling = Object.freeze({
    ...se,
    sign: async (handle: Parameters<typeof se.sign>[0], input: Uint8Array) => {
      const signature = await se.sign(handle, input);
      if (input.length > label.length && label.every((b, i) => input[i] === b)) signature[0] = signature[0]! ^ 0xff;
      return signature;
    },
  });
  Object.defineProperty(sim.device, 'se', { value: spoiling, configurable: true, writable: true });
  return () => Object.defineProperty(sim.device, 'se', { value: se, configurable: true, writable: true });
};

describe('a receipt the Enrolment Function refuses, under its key', () => {
  it('the OpenAPI document declares the proof on the receipt\'s refusals, and a refusal answered matches it', async () => {
    const doc = (await (await fetch(`${world.service.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    for (const status of ['409', '422']) {
      const ref = doc.paths['/v1/enrolment/receipt']!['post']!.responses[status]!.content!['application/problem+json']!.schema!.$ref!;
      expect(doc.components.schemas[ref.split('/').at(-1)!]!.properties).toHaveProperty('refusalProof');
    }
    // Answered through world.post, each answer checked against the document's schema of its status.
    const sim = await world.enrolledDevice('sr-doc', 'ed25519');
    const http = httpDeviceTransport(world.service.url);
    let answered: { status: number; body: Record<string, unknown> } | undefined;
    const transport: DeviceTransport = {
      get: (path) => http.get(path),
      post: async (path, body) => {
        if (path !== RECEIPT) return http.post(path, body);
        await operatorCommand(world.operator, 'revokeNode', { nodeId: 'sr-doc', reason: 'keyCompromise' });
        answered = await world.post(path, body);
        throw new ProblemResponse(answered.status, answered.body as never);
      },
    };
    await provisionWith(sim, 'sr-doc-svc', transport);
    expect(answered).toMatchObject({ status: 409, body: { refusalProof: expect.any(String) } });
  }, 60_000);

  it('409, the node revoked after it authenticated: the device destroys its key at once, the receipt sent once', async () => {
    const sim = await world.enrolledDevice('sr-409', 'ed25519');
    const { transport, seen } = counting(async () => {
      await operatorCommand(world.operator, 'revokeNode', { nodeId: 'sr-409', reason: 'keyCompromise' });
    });
    const { outcome, made } = await provisionWith(sim, 'sr-409-svc', transport);
    expect(outcome).toBeInstanceOf(ProblemResponse);
    expect(outcome).toMatchObject({ status: 409, problem: { type: 'https://credence.dev/problems/illegal_transition', refusalProof: expect.any(String) } });
    expect(seen.receipts).toBe(1);
    expect(await recordedFingerprint('sr-409-svc')).toBeUndefined();
    expect(await heldBy(sim, made.handle)).toBe(false);
    expect(sim.device.credentials.has('sr-409-svc')).toBe(false);
  }, 60_000);

  it('422, a receipt whose proof does not verify: the key is destroyed, and the device provisions the same credential again at once', async () => {
    const sim = await world.enrolledDevice('sr-422', 'ed25519');
    const restore = spoilingCredentialProof(sim);
    const first = counting();
    let refused: Awaited<ReturnType<typeof provisionWith>>;
    try {
      refused = await provisionWith(sim, 'sr-422-svc', first.transport);
    } finally {
      restore();
    }
    expect(refused.outcome).toMatchObject({ status: 422, problem: { reason: 'bad_signature', step: 'provisioning.receipt', refusalProof: expect.any(String) } });
    expect(first.seen.receipts).toBe(1);
    expect(await heldBy(sim, refused.made.handle)).toBe(false);
    expect(await recordedFingerprint('sr-422-svc')).toBeUndefined();

    const again = await provisionWith(sim, 'sr-422-svc', counting().transport);
    expect(again.outcome).toBeUndefined();
    expect(await recordedFingerprint('sr-422-svc')).toBe(again.made.credential.fingerprint);
    expect(sim.device.credentials.get('sr-422-svc')?.descriptor.fingerprint).toBe(again.made.credential.fingerprint);
  }, 60_000);
});

/**
 * Provisioning of `credentialId` whose receipt the server answers, and the answer is then replaced by the refusal
 * `member` makes (of the receipt sent, in the run whose transcript hash the device holds): its outcome, the key, and
 * how many receipts were sent.
 */
const provisionForged = async (sim: SimulatedDevice, credentialId: string, member: (receipt: ProvisioningReceipt, transcriptHash: string) => Record<string, unknown>) => {
  const http = httpDeviceTransport(world.service.url);
  let made: NodeProvisioningResult | undefined;
  const seen = { receipts: 0 };
  const transport: DeviceTransport = {
    get: (path) => http.get(path),
    post: async (path, body) => {
      const answer = await http.post(path, body);
      if (path !== RECEIPT) return answer;
      seen.receipts++;
      throw refusalOf(member(body as ProvisioningReceipt, made!.transcriptHash));
    },
  };
  const outcome = await provisionOverHttp(transport, sim.device, {
    credentialId, kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction, beforeReceipt: (m) => void (made = m),
  }).then(() => undefined, (error: unknown) => error);
  return { outcome, made: made!, seen };
};

const refusalOf = (problem: Record<string, unknown>) =>
  new ProblemResponse(422, {
    type: 'https://credence.dev/problems/protocol', title: 'Protocol error', status: 422, step: 'provisioning.receipt', reason: 'bad_signature',
    detail: 'provisioning.receipt rejected: bad_signature', ...problem,
  });

const anotherKey = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));

describe('a refusal of the receipt the server recorded, made up on the path', () => {
  // A genuine refusal's proof, of another device's run: valid under the pinned key, but not for this run or receipt.
  let otherRuns: Record<string, unknown> = {};
  beforeAll(async () => {
    const sim = await world.enrolledDevice('sf-other', 'ed25519');
    const http = httpDeviceTransport(world.service.url);
    // Read off the server's answer itself, whatever the device makes of it.
    const transport: DeviceTransport = {
      get: (path) => http.get(path),
      post: async (path, body) => {
        if (path !== RECEIPT) return http.post(path, body);
        await operatorCommand(world.operator, 'revokeNode', { nodeId: 'sf-other', reason: 'keyCompromise' });
        return http.post(path, body).catch((error: unknown) => {
          otherRuns = (error as ProblemResponse).problem;
          throw error;
        });
      },
    };
    await provisionWith(sim, 'sf-other-svc', transport);
  }, 60_000);

  it.each([
    ['without a proof', 'sf-none', () => ({})],
    // The whole problem (illegal_transition, its proof): only the run and the receipt differ.
    ['with the proof of another run', 'sf-other-run', () => otherRuns],
    ['with a proof of this very receipt under another key', 'sf-other-key', (receipt: ProvisioningReceipt, transcriptHash: string) => ({
      refusalProof: toBase64url(sign('ed25519', anotherKey.secretKey, receiptRefusalProofInput({ transcriptHash, receiptHash: receiptHash(receipt), code: 'protocol', reason: 'bad_signature' }))),
    })],
    ['with a proof that is no base64url', 'sf-junk', () => ({ refusalProof: '!!not-base64url!!' })],
  ] as const)('%s: the device sends the receipt once more and keeps the key the server recorded', async (_case, nodeId, member) => {
    expect(otherRuns).toMatchObject({ type: 'https://credence.dev/problems/illegal_transition', refusalProof: expect.stringMatching(/^[A-Za-z0-9_-]{86}$/) });
    const sim = await world.enrolledDevice(nodeId, 'ed25519');
    const { outcome, made, seen } = await provisionForged(sim, `${nodeId}-svc`, member);
    expect(outcome).toBeInstanceOf(ReceiptOutcomeUnknown);
    expect(seen.receipts).toBe(2);
    expect(await recordedFingerprint(`${nodeId}-svc`)).toBe(made.credential.fingerprint);
    expect(await heldBy(sim, made.handle)).toBe(true);
  }, 60_000);
});
