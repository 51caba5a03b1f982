/**
 * Found in review 64 (F6): a hello's `credentialId` and `predecessorId` were the message's loose identifier (any
 * printable ASCII up to 256 characters), while the engine records a credential only under a domain `CredentialId`.
 * An id the engine can never record passed the hello and the auth (a PSK made and delivered, a run slot taken) and
 * was refused only at the receipt. Now the hello refuses it, `malformed` naming the field, before any key is made;
 * and `credence device provision` refuses it itself, naming the option, before it asks the server anything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64url } from '../domain/crypto/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { runCli } from './support/cli.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

const NOT_RECORDABLE = [
  ['a character outside the id rule', 'bad#id'],
  ['more than 128 characters', 'x'.repeat(200)],
  ['a leading dash', '-lead'],
] as const;

describe('a provisioning hello over HTTP naming an id the engine cannot record', () => {
  let world: DeviceServiceWorld;
  let sim: SimulatedDevice;
  beforeAll(async () => {
    world = await deviceServiceWorld();
    sim = await world.enrolledDevice('zz-badid', 'ed25519');
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  /** The hello of a run asking for `ids`, posted; what it was answered, and whether anything was written or kept. */
  const hello = async (ids: { credentialId: string; predecessorId?: string }) => {
    const { id, publicKey } = sim.state.pinned.enrolmentFunction;
    const session = await sim.device
      .provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } })
      .start({ credentialKind: 'psk256', ...ids });
    const infra = await world.infrastructure();
    const head = await world.head();
    try {
      const answer = await world.post('/v1/enrolment/hello', session.hello);
      const written = (await world.streamsWrittenSince(head)).filter((s) => !s.startsWith('pseudonym-'));
      return { answer, written, runs: infra.enrolmentFunction.sessionCount };
    } finally {
      await session.abort();
    }
  };

  it.each(NOT_RECORDABLE)('credentialId with %s is 422 malformed naming credentialId; no run, nothing written', async (_case, credentialId) => {
    const { answer, written, runs } = await hello({ credentialId });
    expect(answer).toMatchObject({ status: 422, body: { type: 'https://credence.dev/problems/protocol', step: 'provisioning.hello', reason: 'malformed' } });
    expect(answer.body['detail']).toMatch(/\(credentialId: credential id must be letters, digits/);
    expect(written).toEqual([]);
    expect(runs).toBe(0);
  });

  it.each(NOT_RECORDABLE)('predecessorId with %s is 422 malformed naming predecessorId; no run, nothing written', async (_case, predecessorId) => {
    const { answer, written, runs } = await hello({ credentialId: 'zz-badid-next', predecessorId });
    expect(answer).toMatchObject({ status: 422, body: { step: 'provisioning.hello', reason: 'malformed' } });
    expect(answer.body['detail']).toMatch(/\(predecessorId: credential id must be letters, digits/);
    expect(written).toEqual([]);
    expect(runs).toBe(0);
  });

  it('an id by the rule still gets its challenge', async () => {
    const { answer, runs } = await hello({ credentialId: 'zz-badid-ok' });
    expect(answer.status).toBe(200);
    expect(runs).toBe(1);
  });
});

describe('credence device provision with an id the engine cannot record', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'credence-badid-'));
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it.each(NOT_RECORDABLE)('--credential-id with %s is bad usage (2) naming the option, said before any server is asked', async (_case, credentialId) => {
    const run = await runCli(['device', 'provision', '--dir', join(root, 'd'), '--credential-id', credentialId, '--kind', 'ed25519', '--server', 'http://127.0.0.1:9']);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/--credential-id: credential id must be letters, digits/);
  });

  it.each(NOT_RECORDABLE)('--predecessor-id with %s is bad usage (2) naming the option', async (_case, predecessorId) => {
    const run = await runCli(['device', 'provision', '--dir', join(root, 'd'), '--credential-id', 'c-next', '--predecessor-id', predecessorId, '--kind', 'ed25519', '--server', 'http://127.0.0.1:9']);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/--predecessor-id: credential id must be letters, digits/);
  });
});
