/**
 * Issue 12, device-facing endpoints: a tampered or replayed protocol message over HTTP is refused with an RFC 9457
 * problem naming the step and the reason (422 for a protocol refusal, 400 for a body that is not the message), the
 * run ends, and nothing is recorded for it. A receipt the engine refuses writes nothing either (not even the
 * CredentialIssued before it), and before a node authenticates nothing tells it which credential ids exist.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { associateOverHttp, httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { fromBase64url, toBase64url } from '../domain/crypto/index.ts';
import { streamIdOf } from '../domain/streams.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { MAX_FAILED_PROOFS } from '../adapters/protocols/shared/failed-proofs.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

let world: DeviceServiceWorld;
let sim: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  sim = await world.enrolledDevice('meter-t', 'ed25519');
}, 60_000);
afterAll(async () => {
  await world?.close();
});

/** A proof or MAC with its first character changed: still base64url, no longer the sender's. */
const flipped = (proof: string): string => `${proof[0] === 'A' ? 'B' : 'A'}${proof.slice(1)}`;

const pinnedEf = () => {
  const { id, publicKey } = sim.state.pinned.enrolmentFunction;
  return { id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } };
};

/** Nothing recorded for the device's entities since `head` (the live runtime's own events do not count). */
const expectNothingRecorded = async (head: bigint, ...streams: string[]) => {
  const written = await world.streamsWrittenSince(head);
  expect(written.filter((s) => streams.includes(s))).toEqual([]);
};

const expectProtocolProblem = (response: Awaited<ReturnType<DeviceServiceWorld['post']>>, step: string, reason: string) => {
  expect(response.status).toBe(422);
  expect(response.type).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ type: 'https://credence.dev/problems/protocol', step, reason });
};

describe('remote provisioning over HTTP refuses tampered and replayed messages and records nothing', () => {
  it('a hello without credentialId is refused: over HTTP it names the credential to record', async () => {
    const head = await world.head();
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'ed25519' });
    expectProtocolProblem(await world.post('/v1/enrolment/hello', session.hello), 'provisioning.hello', 'malformed');
    await session.abort();
    await expectNothingRecorded(head, 'credential-c-none');
  });

  it('a body that is not the message is a 400 naming every field', async () => {
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'ed25519', credentialId: 'c-bad' });
    const response = await world.post('/v1/enrolment/hello', { ...session.hello, nodeNonce: 'short', extra: 1 });
    await session.abort();
    expect(response.status).toBe(400);
    const paths = (response.body['errors'] as { path: string }[]).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['body.nodeNonce']));
  });

  it('a tampered auth proof, the third of its run, ends the run: the untampered auth is then an unknown session, no credential is recorded', async () => {
    const head = await world.head();
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'ed25519', credentialId: 'c-auth' });
    const challenge = await world.post('/v1/enrolment/hello', session.hello);
    expect(challenge.status).toBe(200);
    const auth = await session.acceptChallenge(challenge.body);
    // A failed proof leaves the run going, up to MAX_FAILED_PROOFS (review 238).
    for (let i = 0; i < MAX_FAILED_PROOFS; i++) {
      expectProtocolProblem(await world.post('/v1/enrolment/auth', { ...auth, proof: flipped(auth.proof) }), 'provisioning.auth', 'bad_signature');
    }
    expectProtocolProblem(await world.post('/v1/enrolment/auth', auth), 'provisioning.auth', 'unknown_session');
    await session.abort();
    await expectNothingRecorded(head, 'credential-c-auth');
  });

  it('a receipt whose credential proof is tampered is refused and records nothing', async () => {
    const head = await world.head();
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'p256', credentialId: 'c-receipt' });
    const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
    const { receipt } = await session.acceptDelivery((await world.post('/v1/enrolment/auth', auth)).body);
    for (let i = 0; i < MAX_FAILED_PROOFS; i++) {
      expectProtocolProblem(await world.post('/v1/enrolment/receipt', { ...receipt, credentialProof: flipped(receipt.credentialProof) }), 'provisioning.receipt', 'bad_signature');
    }
    expectProtocolProblem(await world.post('/v1/enrolment/receipt', receipt), 'provisioning.receipt', 'unknown_session');
    await expectNothingRecorded(head, 'credential-c-receipt');
    expect((await world.service.service.context.credence.engine.entity('credential', 'c-receipt')).events).toHaveLength(0);
  });

  it('the messages of a completed run, replayed, are refused and record nothing more', async () => {
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'ed25519', credentialId: 'c-done' });
    const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
    const { receipt } = await session.acceptDelivery((await world.post('/v1/enrolment/auth', auth)).body);
    expect((await world.post('/v1/enrolment/receipt', receipt)).status).toBe(201);
    const head = await world.head();
    // The hello's nonce is what refuses it (SER-012), whatever credential id it names.
    expectProtocolProblem(await world.post('/v1/enrolment/hello', session.hello), 'provisioning.hello', 'replayed_nonce');
    expectProtocolProblem(await world.post('/v1/enrolment/hello', { ...session.hello, credentialId: 'c-done-2' }), 'provisioning.hello', 'replayed_nonce');
    expectProtocolProblem(await world.post('/v1/enrolment/auth', auth), 'provisioning.auth', 'unknown_session');
    // The receipt that ended the run, sent again, gets its answer (review 238), recording nothing more.
    expect((await world.post('/v1/enrolment/receipt', receipt)).status).toBe(201);
    await expectNothingRecorded(head, 'credential-c-done', 'credential-c-done-2');
  });

  it('a receipt that verifies after its node was revoked is refused by the engine: nothing recorded, the PSK copy destroyed', async () => {
    const revoked = await world.enrolledDevice('meter-r', 'ed25519');
    const { id, publicKey } = revoked.state.pinned.enrolmentFunction;
    const session = await revoked.device.provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } })
      .start({ credentialKind: 'psk256', credentialId: 'c-late' });
    const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
    const { receipt } = await session.acceptDelivery((await world.post('/v1/enrolment/auth', auth)).body);
    await operatorCommand(world.operator, 'revokeNode', { nodeId: 'meter-r', reason: 'keyCompromise' });
    const head = await world.head();
    const refused = await world.post('/v1/enrolment/receipt', receipt);
    expect(refused.status).toBe(409);
    expect(refused.type).toMatch(/^application\/problem\+json/);
    await expectNothingRecorded(head, 'credential-c-late');
    const infra = await world.infrastructure();
    expect(infra.o.registry.live(streamIdOf('credential', 'c-late'), 'psk')).toEqual([]);
  });

  /** A PSK run of `device` up to its receipt, which has not been posted yet. */
  const deliveredPsk = async (device: SimulatedDevice, credentialId: string) => {
    const { id, publicKey } = device.state.pinned.enrolmentFunction;
    const session = await device.device.provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } })
      .start({ credentialKind: 'psk256', credentialId });
    const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
    return (await session.acceptDelivery((await world.post('/v1/enrolment/auth', auth)).body)).receipt;
  };
  const credentialEvents = async (credentialId: string) =>
    (await world.service.service.context.credence.engine.entity('credential', credentialId)).events;

  it('a receipt that verifies after the node\'s bootstrap credential was revoked writes nothing at all: no CredentialIssued left behind', async () => {
    const node = await world.enrolledDevice('meter-b', 'ed25519');
    const receipt = await deliveredPsk(node, 'c-boot-late');
    await operatorCommand(world.operator, 'revokeCredential', { credentialId: 'meter-b-boot', reason: 'keyCompromise' });
    const head = await world.head();
    const refused = await world.post('/v1/enrolment/receipt', receipt);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ rule: 'bootstrapIsUsable' });
    await expectNothingRecorded(head, 'credential-c-boot-late');
    expect(await credentialEvents('c-boot-late')).toEqual([]);
    const infra = await world.infrastructure();
    expect(infra.o.registry.live(streamIdOf('credential', 'c-boot-late'))).toEqual([]);
  });

  it('a bootstrap revoked between the issue and the provisioning append leaves an honest trail: issued, then revoked as never used', async () => {
    const node = await world.enrolledDevice('meter-race', 'ed25519');
    const receipt = await deliveredPsk(node, 'c-race');
    const infra = await world.infrastructure();
    const run = infra.run;
    // The revocation lands in the milliseconds between the two appends, after both were decided.
    infra.run = (async (type, data, correlationId) => {
      const outcome = await run.call(infra, type, data, correlationId);
      if (type === 'issueCredential') await operatorCommand(world.operator, 'revokeCredential', { credentialId: 'meter-race-boot', reason: 'keyCompromise' });
      return outcome;
    }) as typeof infra.run;
    try {
      expect((await world.post('/v1/enrolment/receipt', receipt)).status).toBe(409);
    } finally {
      infra.run = run;
    }
    const [issued, revoked, ...more] = await credentialEvents('c-race');
    expect([issued?.event.type, revoked?.event.type, more]).toEqual(['CredentialIssued', 'CredentialRevoked', []]);
    expect(revoked!.event.data).toMatchObject({ reason: 'cessationOfOperation' });
    expect(revoked!.metadata.correlationId).toBe(issued!.metadata.commandId);
    expect(infra.o.registry.live(streamIdOf('credential', 'c-race'))).toEqual([]);
  });
});

describe('remote provisioning over HTTP tells an unauthenticated sender nothing about credential ids (no enumeration before authentication)', () => {
  /** The engine reads of credential `id` made while `work` runs. */
  const readsOf = async (id: string, work: () => Promise<unknown>): Promise<number> => {
    const { engine } = world.service.service.context.credence;
    const entity = engine.entity;
    let reads = 0;
    engine.entity = (kind, entityId) => {
      if (kind === 'credential' && entityId === id) reads++;
      return entity.call(engine, kind, entityId);
    };
    try {
      await work();
    } finally {
      engine.entity = entity;
    }
    return reads;
  };

  // Another node's bootstrap credential: an id in use that is none of meter-t's business.
  const taken = 'meter-e-boot';
  beforeAll(async () => {
    await world.enrolledDevice('meter-e', 'ed25519');
  }, 30_000);

  it('a hello naming a credential id in use gets the same answer as any other, and costs no read of that credential', async () => {
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'ed25519', credentialId: taken });
    // From an unknown node: a decoy challenge (adapters/protocols/shared/decoy.ts), telling nothing of the id either.
    let ghost: Awaited<ReturnType<DeviceServiceWorld['post']>> | undefined;
    expect(await readsOf(taken, async () => (ghost = await world.post('/v1/enrolment/hello', { ...session.hello, nodeId: 'ghost', nodeNonce: toBase64url(randomBytes(32)) })))).toBe(0);
    expect(ghost!.status).toBe(200);
    expect(JSON.stringify(ghost!.body)).not.toContain(taken);
    // From the real node (a Node-ID and a fingerprint are public): a challenge, as for a free id.
    let challenge: Awaited<ReturnType<DeviceServiceWorld['post']>> | undefined;
    expect(await readsOf(taken, async () => (challenge = await world.post('/v1/enrolment/hello', session.hello)))).toBe(0);
    expect(challenge!.status).toBe(200);
    await session.abort();
  });

  it('an authenticated node is told at auth that its id is taken, with no delivery, in words that name no one else\'s credential', async () => {
    const head = await world.head();
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'psk256', credentialId: taken });
    const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
    const refused = await world.post('/v1/enrolment/auth', auth);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ errors: [{ path: 'credentialId', rule: 'unused' }] });
    expect(refused.body).not.toHaveProperty('wrappedKey');
    expect(JSON.stringify(refused.body)).not.toContain(taken);
    // The run is over: the same auth again finds no session.
    expectProtocolProblem(await world.post('/v1/enrolment/auth', auth), 'provisioning.auth', 'unknown_session');
    await session.abort();
    await expectNothingRecorded(head, `credential-${taken}`);
  });

  it('a predecessor that is not a live credential of the authenticated node is refused at auth, naming neither credential', async () => {
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'ed25519', credentialId: 'c-successor', predecessorId: taken });
    const transport = httpDeviceTransport(world.service.url);
    let challenge: unknown;
    expect(await readsOf(taken, async () => (challenge = await transport.post('/v1/enrolment/hello', session.hello)))).toBe(0);
    const refused = await world.post('/v1/enrolment/auth', await session.acceptChallenge(challenge));
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ errors: [{ path: 'predecessorId', rule: 'live-credential-of-node' }] });
    expect(JSON.stringify(refused.body)).not.toMatch(/meter-e|c-successor/);
    await session.abort();
  });

  it('a predecessor added on the path is refused: in the request only at the hello, in the hello at the auth', async () => {
    const head = await world.head();
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'ed25519', credentialId: 'c-unlinked' });
    const queried = await fetch(`${world.service.url}/v1/enrolment/hello?predecessorId=${taken}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(session.hello),
    });
    expect(queried.status).toBe(422);
    expect(await queried.json()).toMatchObject({ step: 'provisioning.hello', reason: 'malformed' });
    // Written into the hello, it is in the transcript the Enrolment Function's challenge proof covers, not in the
    // node's: the node refuses the challenge, and sends no auth.
    const challenge = await world.post('/v1/enrolment/hello', { ...session.hello, predecessorId: taken });
    expect(challenge.status).toBe(200);
    await expect(session.acceptChallenge(challenge.body)).rejects.toMatchObject({ problem: { step: 'provisioning.challenge', reason: 'bad_signature' } });
    await session.abort();
    await expectNothingRecorded(head, 'credential-c-unlinked');
  });
});

describe('the association handshake over HTTP refuses tampered and replayed messages and records nothing', () => {
  const registree = () =>
    sim.device.registree('svc-t', sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey });
  const path = (associationId: string, step: 'hello' | 'finish') => `/v1/registrar/associations/${associationId}/${step}`;
  const state = async (associationId: string) => String((await world.service.service.context.credence.engine.entity('association', associationId)).snapshot.value);

  beforeAll(async () => {
    await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, { credentialId: 'svc-t', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction });
    for (const id of ['sa-mac', 'sa-other', 'sa-wrong', 'sa-done']) await world.configure(id, sim, 'svc-t');
  }, 30_000);

  it('a finish with a tampered key confirmation is refused as a failed proof (bad_signature, review 405), recording nothing; the genuine finish then associates (review 274)', async () => {
    const head = await world.head();
    const handshake = await registree().start({ lifetimeSeconds: 3600, associationId: 'sa-mac' });
    const { finish } = await handshake.acceptChallenge((await world.post(path('sa-mac', 'hello'), handshake.hello)).body);
    expectProtocolProblem(await world.post(path('sa-mac', 'finish'), { ...finish, keyConfirmation: flipped(finish.keyConfirmation) }), 'association.finish', 'bad_signature');
    expect(await state('sa-mac')).toBe('initialized');
    await expectNothingRecorded(head, 'association-sa-mac');
    const confirm = await world.post(path('sa-mac', 'finish'), finish);
    expect(confirm.status).toBe(201);
    await handshake.acceptConfirm(confirm.body);
    expect(await state('sa-mac')).toBe('associated');
  });

  it('a finish posted for another association than its hello is refused, and establishes neither', async () => {
    const head = await world.head();
    const handshake = await registree().start({ lifetimeSeconds: 3600, associationId: 'sa-wrong' });
    const { finish } = await handshake.acceptChallenge((await world.post(path('sa-wrong', 'hello'), handshake.hello)).body);
    expectProtocolProblem(await world.post(path('sa-other', 'finish'), finish), 'association.finish', 'unknown_session');
    await handshake.abort();
    expect([await state('sa-wrong'), await state('sa-other')]).toEqual(['initialized', 'initialized']);
    await expectNothingRecorded(head, 'association-sa-wrong', 'association-sa-other');
  });

  it('a hello for an association that is not configured for this Registree gets a decoy challenge, and its finish what a failed proof gets', async () => {
    const head = await world.head();
    const handshake = await registree().start({ lifetimeSeconds: 3600, associationId: 'sa-nowhere' });
    const challenge = await world.post(path('sa-nowhere', 'hello'), handshake.hello);
    expect(challenge.status).toBe(200);
    // The Registrar knows no credential for it: even its holder's proof is a failed one (shared/decoy.ts).
    const { finish } = await handshake.acceptChallenge(challenge.body);
    expectProtocolProblem(await world.post(path('sa-nowhere', 'finish'), finish), 'association.finish', 'bad_signature');
    await handshake.abort();
    await expectNothingRecorded(head, 'association-sa-nowhere');
  });

  it('the messages of a completed handshake, replayed, are refused and record nothing more', async () => {
    const handshake = await registree().start({ lifetimeSeconds: 3600, associationId: 'sa-done' });
    const { finish } = await handshake.acceptChallenge((await world.post(path('sa-done', 'hello'), handshake.hello)).body);
    const confirm = await world.post(path('sa-done', 'finish'), finish);
    expect(confirm.status).toBe(201);
    await handshake.acceptConfirm(confirm.body);
    expect(await state('sa-done')).toBe('associated');
    const head = await world.head();
    // Its nonce is remembered (SER-012), checked as for any hello before the credential is.
    expectProtocolProblem(await world.post(path('sa-done', 'hello'), handshake.hello), 'association.hello', 'replayed_nonce');
    // At another association's path it names the wrong one (its proofs cover the association it names).
    expectProtocolProblem(await world.post(path('sa-mac', 'hello'), handshake.hello), 'association.hello', 'wrong_identity');
    // The finish that ended the run, sent again, gets its answer (review 238), recording nothing more; at another
    // association's path it is another message.
    expect(await world.post(path('sa-done', 'finish'), finish)).toMatchObject({ status: 201, body: confirm.body });
    expectProtocolProblem(await world.post(path('sa-mac', 'finish'), finish), 'association.finish', 'unknown_session');
    await expectNothingRecorded(head, 'association-sa-done', 'association-sa-mac');
  });

  it('the device client ends its run on a refusal and keeps no session key', async () => {
    const before = sim.device.credentials.size;
    const refused = await associateOverHttp(httpDeviceTransport(world.service.url), sim.device, {
      associationId: 'sa-nowhere', credentialId: 'svc-t', lifetimeSeconds: 3600, registrar: sim.state.pinned.registrar,
    }).catch((e: unknown) => e);
    // Answered with a decoy challenge, then refused at the finish as any failed proof (shared/decoy.ts).
    expect(refused).toMatchObject({ status: 422, problem: { step: 'association.finish', reason: 'bad_signature' } });
    expect(sim.device.credentials.size).toBe(before);
  });
});
