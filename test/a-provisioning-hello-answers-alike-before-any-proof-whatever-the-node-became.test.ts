/**
 * Found in review (seeds 002 and 004 unobservability; SER-001): before any proof, a provisioning hello must be answered
 * the same whether the node's bootstrap can be used or not; else anyone holding a Node-ID and a public fingerprint
 * learns what became of the node. Two ways it was not:
 *
 * - Through the engine (procedures/Infrastructure), a revoked node's bootstrap resolved as unknown, so a hello's
 *   manufacturer (IDevID) chain was checked against no recorded certificate: a hello with no chain was refused for a
 *   usable node and challenged for a revoked one, a hello with the device's real chain challenged for a usable node
 *   and refused for a revoked one. A revoked node's bootstrap now resolves as known and revoked.
 * - An Enrolment Function with no signing key refused a usable asymmetric bootstrap for that (before the shared checks)
 *   and an unusable one for what the shared checks found (a credential kind not offered). Whether the bootstrap can be
 *   used is now decided only after the shared checks.
 * - A hello's manufacturer chain was refused at once for a node the Enrolment Function never recorded, or recorded
 *   with another certificate or none, so a device's public chain told whether its node was recorded. What the hello
 *   alone shows (a chain that does not verify, or does not certify the key the hello claims) is still refused at once;
 *   what rests on the record is concealed behind a decoy run, and told only to the bootstrap's holder at its auth.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import type { ProvisioningHello } from '../domain/protocols/enrolment-messages.ts';
import type { Device } from '../adapters/protocols/procedures/index.ts';
import { TrustAnchors } from '../domain/x509/index.ts';
import { der, importPublicKey, intermediateCa, issue, rootCa } from './x509-fixtures.ts';
import { command } from '../domain/commands/index.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';
import { securityWorld } from './support/security-world.ts';
import { provisioningWorld } from './provisioning-protocol.fixtures.ts';
import { shape } from './support/protocol-answers.ts';

/** What the peer is told: a challenge (its shape), or a refusal (its message and problem). */
const answerTo = async (run: () => Promise<unknown>) => {
  const outcome = await run().then(
    (challenge) => ({ challenge }),
    (error: unknown) => ({ error }),
  );
  if ('challenge' in outcome) return { challenge: shape(outcome.challenge) };
  if (!isCredenceError(outcome.error, 'protocol')) throw new Error(`expected a protocol refusal, got ${String(outcome.error)}`);
  return { refused: { message: outcome.error.message, problem: outcome.error.problem } };
};

type World = Awaited<ReturnType<typeof securityWorld>>;
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('a provisioning hello through the engine, for a usable node and a revoked one, both with a manufacturer certificate', async () => {
  const root = await rootCa();
  const deviceCa = await intermediateCa(root, 'CN=Acme Meters Device CA, O=Acme');
  const certifyFor = (nodeId: string) => async (kind: 'ed25519' | 'p256', publicKey: Uint8Array) => [
    der(await issue(deviceCa, { subject: `CN=${nodeId}, O=Acme Meters`, publicKey: await importPublicKey(kind, publicKey) })),
    der(deviceCa.cert),
  ];
  /** A node registered at the factory with an IDevID-certified p256 bootstrap, enrolled under sub-1. */
  const factory = async (w: World, nodeId: string): Promise<Device> => {
    const device = w.device(nodeId);
    await w.procedures.preProvision({
      device, profile, bootstrapCredentialId: `${nodeId}-boot`, kind: 'p256', validity: { notBefore: T0, notAfter: at(5 * 365) }, certify: certifyFor(nodeId),
    });
    await w.credence.engine.execute({ type: 'enrolNode', data: { nodeId, subscriptionId: 'sub-1', cseId: `/${nodeId}-cse` }, metadata: { actor: operator } });
    return device;
  };
  /** A hello as the device sends it (with its manufacturer chain), and its run's end. */
  const helloOf = async (w: World, device: Device) => {
    const client = device.provisioningClient({
      id: w.infrastructure.enrolmentFunctionId,
      publicKey: { kind: w.infrastructure.signing.kind, bytes: w.infrastructure.signing.efPublicKey },
    });
    const session = await client.start({ credentialKind: 'ed25519' });
    return { hello: session.hello, abort: () => session.abort() };
  };
  const withoutChain = (hello: ProvisioningHello): ProvisioningHello => {
    const { certificateChain: _dropped, ...rest } = hello;
    return rest;
  };

  const twoNodes = async (seed: string) => {
    world = await securityWorld(seed, { trustAnchors: TrustAnchors.fromDer([der(root.cert)]) });
    const w = world;
    const usable = await factory(w, 'meter-1');
    const revoked = await factory(w, 'meter-2');
    await w.credence.engine.execute(command('revokeNode', { nodeId: 'meter-2', reason: 'cessationOfOperation' }, { actor: operator }));
    await w.credence.settle();
    expect(String((await w.credence.engine.entity('node', 'meter-2')).snapshot.value)).toBe('revoked');
    expect(String((await w.credence.engine.entity('node', 'meter-1')).snapshot.value)).not.toBe('revoked');
    return { w, usable, revoked };
  };

  it('a hello with no manufacturer chain gets a challenge of the same shape for both (the recorded certificate is missing from it)', async () => {
    const { w, usable, revoked } = await twoNodes('hello-alike-no-chain');
    const ef = w.infrastructure.enrolmentFunction;
    const a = await helloOf(w, usable);
    const b = await helloOf(w, revoked);
    expect(a.hello.certificateChain).toBeDefined();
    const forUsable = await answerTo(() => ef.acceptHello(withoutChain(a.hello)));
    const forRevoked = await answerTo(() => ef.acceptHello(withoutChain(b.hello)));
    expect(forUsable).toHaveProperty('challenge');
    expect(forRevoked).toEqual(forUsable);
    expect(ef.sessionCount).toBe(2);
    await a.abort();
    await b.abort();
  });

  it("a hello with a device's real chain, for a node never recorded, gets a challenge of the same shape as for the device's own", async () => {
    const { w, usable } = await twoNodes('hello-alike-never-recorded');
    const ef = w.infrastructure.enrolmentFunction;
    const a = await helloOf(w, usable);
    const b = await helloOf(w, usable);
    const forRecorded = await answerTo(() => ef.acceptHello(a.hello));
    // A node id of the same length: the shapes compared count characters.
    const forNeverRecorded = await answerTo(() => ef.acceptHello({ ...b.hello, nodeId: 'meter-9' }));
    expect(forRecorded).toHaveProperty('challenge');
    expect(forNeverRecorded).toEqual(forRecorded);
    await a.abort();
    await b.abort();
  });

  it("a hello with the device's real manufacturer chain gets a challenge of the same shape for both", async () => {
    const { w, usable, revoked } = await twoNodes('hello-alike-real-chain');
    const ef = w.infrastructure.enrolmentFunction;
    const a = await helloOf(w, usable);
    const b = await helloOf(w, revoked);
    const forUsable = await answerTo(() => ef.acceptHello(a.hello));
    const forRevoked = await answerTo(() => ef.acceptHello(b.hello));
    expect(forUsable).toHaveProperty('challenge');
    expect(forRevoked).toEqual(forUsable);
    expect(ef.sessionCount).toBe(2);
    await a.abort();
    await b.abort();
  });
});

describe('a provisioning hello to an Enrolment Function with no signing key, for a kind it does not offer', () => {
  const ef = { signingKey: undefined, allowedCredentialKinds: ['psk256' as const] };

  it('is refused alike for a usable ed25519 bootstrap and a revoked one: the kind not offered, whatever the bootstrap became', async () => {
    const answers = [];
    for (const bootstrapRevoked of [false, true]) {
      const w = await provisioningWorld({ bootstrapKind: 'ed25519', seed: 'no-signing-key', bootstrapRevoked, ef });
      const session = await w.client.start({ credentialKind: 'ed25519' });
      answers.push(await answerTo(() => w.ef.acceptHello(session.hello)));
      expect(w.ef.sessionCount).toBe(0);
      await session.abort();
    }
    const [forUsable, forRevoked] = answers;
    expect(forRevoked).toEqual(forUsable);
    expect(forUsable).toMatchObject({
      refused: { message: expect.stringContaining('credential kind ed25519 is not offered'), problem: { step: 'provisioning.hello', reason: 'unsupported' } },
    });
  });
});

describe('a provisioning hello whose manufacturer chain the record does not match', async () => {
  const root = await rootCa();
  const deviceCa = await intermediateCa(root, 'CN=Acme Device CA');
  const certify = async (publicKey: Uint8Array) => {
    const leaf = der(await issue(deviceCa, { subject: 'CN=node-1, O=Acme Meters', publicKey: await importPublicKey('p256', publicKey) }));
    return { leaf, chain: [leaf, der(deviceCa.cert)] };
  };

  it('is challenged as any hello, and its holder is told at its auth that the chain does not match the record', async () => {
    // The device holds an IDevID chain; the Enrolment Function recorded its bootstrap without a certificate.
    const w = await provisioningWorld({
      bootstrapKind: 'p256',
      seed: 'chain-where-none-recorded',
      certificate: certify,
      trustAnchors: TrustAnchors.fromDer([der(root.cert)]),
      tamperBootstrap: (d) => {
        const { certificate: _recorded, ...rest } = d as typeof d & { certificate?: string };
        return rest as typeof d;
      },
    });
    const session = await w.client.start({ credentialKind: 'p256' });
    expect(session.hello.certificateChain).toBeDefined();
    const challenge = await w.ef.acceptHello(session.hello);
    const auth = await session.acceptChallenge(challenge);
    let refused: unknown;
    await w.ef.acceptAuth(auth).catch((error: unknown) => (refused = error));
    expect(isCredenceError(refused, 'protocol') && refused.problem).toMatchObject({
      step: 'provisioning.auth',
      reason: 'credential_mismatch',
      message: expect.stringContaining('does not match the recorded manufacturer certificate'),
    });
    expect(w.ef.sessionCount).toBe(0);
  });
});
