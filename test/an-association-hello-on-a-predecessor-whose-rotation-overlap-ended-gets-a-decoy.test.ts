/**
 * HLR-212 and seed 003 11.2.2 / 11.3.2, left open by review 26's fix: the association machine refuses a credential
 * whose rotation's overlap has ended (rule credentialUsable, `credentialUsableAt`), yet the Registrar's hello checked
 * the credential's state and validity window only, so a predecessor's handshake ran to its finish and was refused
 * only when recorded (409), the expiry scheduler not having revoked it as superseded yet. The hello now asks the
 * machine's own rule at the engine's instant: such a hello gets a decoy challenge, answered as an unknown credential's
 * is, its holder is told why at the finish, and nothing is recorded. Until the overlap ends the predecessor associates.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import type { CredenceError } from '../domain/errors.ts';
import { RegistrarEndpoint, type Device } from '../adapters/protocols/procedures/index.ts';
import { cmd, footprint, operator } from './support/fleet.ts';
import { shape, told, withStrangersProof } from './support/protocol-answers.ts';
import { restartableWorld, type RestartableWorld } from './support/restartable-world.ts';

let world: RestartableWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const OVERLAP_MS = 3_600_000;

/**
 * meter-1 provisioned with meter-1-svc, then meter-1-svc-2 as its successor and a rotation onto it with an hour's
 * overlap; associations configured on the predecessor (sa-before, sa-after) and on the successor (sa-successor).
 */
const open = async () => {
  const w = (world = await restartableWorld('overlap-ended-hello'));
  const device = await w.provisioned('meter-1', 'ed25519', 'ed25519');
  await w.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc-2', kind: 'ed25519', predecessorId: 'meter-1-svc' });
  const overlapEndsAt = new Date(w.clock.now().getTime() + OVERLAP_MS).toISOString();
  await w.credence.engine.execute(cmd.startCredentialRotation(overlapEndsAt, 'meter-1-svc', 'meter-1-svc-2'));
  for (const [associationId, credentialId] of [['sa-before', 'meter-1-svc'], ['sa-after', 'meter-1-svc'], ['sa-successor', 'meter-1-svc-2']] as const) {
    await w.credence.engine.execute(command('configureAssociation', {
      associationId, nodeId: 'meter-1', credentialId, registree: { kind: 'cse', id: device.cseId }, registrarCseId: w.infrastructure.registrarCseId,
    }, { actor: operator }));
  }
  return { w, device, overlapEndsAt };
};

/** The Registrar CSE driven one message at a time, as over HTTP, and a hello of `device`'s `credentialId` to it. */
const registrarOf = async (w: RestartableWorld, device: Device) => {
  const endpoint = new RegistrarEndpoint(w.infrastructure);
  const pinned = await w.infrastructure.pinned('registrar');
  /** A run's hello and challenge, the real Registree's finish, and what the service's log was told at the hello. */
  const run = async (credentialId: string, associationId: string) => {
    const registree = device.registree(credentialId, device.cseId!, { id: pinned.id, key: pinned.publicKey });
    const handshake = await registree.start({ lifetimeSeconds: 600, associationId });
    const concealed: CredenceError[] = [];
    const challenge = await endpoint.acceptHello(associationId, handshake.hello, undefined, (refusal) => concealed.push(refusal));
    const { finish } = await handshake.acceptChallenge(challenge);
    const logged = concealed.map((r) => ((r.cause as CredenceError | undefined)?.problem as { reason?: string } | undefined)?.reason);
    return { handshake, challenge, finish, logged };
  };
  return { endpoint, run };
};

const stateOf = async (w: RestartableWorld, kind: 'association' | 'credential', id: string) => String((await w.credence.engine.entity(kind, id)).snapshot.value);

describe("an association hello on a predecessor whose rotation's overlap has ended (HLR-212, seed 003 11.2.2)", () => {
  it('associates on the predecessor until the overlap ends', async () => {
    const { w, device, overlapEndsAt } = await open();
    // 700 s before it: the grant, cut to the overlap's end less the Registrar's margin (review 64), is still one
    w.clock.set(new Date(Date.parse(overlapEndsAt) - 700_000));
    await w.procedures.establish({ device, associationId: 'sa-before', credentialId: 'meter-1-svc', lifetimeSeconds: 3_600, registreeId: device.cseId! });
    expect(await stateOf(w, 'association', 'sa-before')).toBe('associated');
    const { expiresAt } = (await w.credence.engine.entity('association', 'sa-before')).snapshot.context as { expiresAt: number };
    expect(expiresAt).toBeLessThan(Date.parse(overlapEndsAt));
  });

  it('gets a decoy challenge from then on, answered as an unknown credential\'s; its holder is told why at the finish; nothing recorded', async () => {
    const { w, device, overlapEndsAt } = await open();
    const { endpoint, run } = await registrarOf(w, device);
    // Given the overlap has ended, the expiry scheduler not having revoked the predecessor as superseded yet
    w.clock.set(overlapEndsAt);
    expect(await stateOf(w, 'credential', 'meter-1-svc')).toBe('enrolled');
    const before = await footprint(w.credence.store);

    // What a usable credential's run answers (the successor's): its challenge, and a stranger's finish
    const usable = await run('meter-1-svc-2', 'sa-successor');
    const failedProof = await told(() => endpoint.acceptFinish('sa-successor', withStrangersProof(usable.finish)));
    expect(failedProof.problem).toMatchObject({ step: 'association.finish', reason: 'bad_signature' });
    await usable.handshake.abort();
    // and what a credential the Registrar does not know gets (an association never configured)
    const unknown = await run('meter-1-svc', 'sa-nowhere');
    expect(shape(unknown.challenge)).toEqual(shape(usable.challenge));
    expect(await told(() => endpoint.acceptFinish('sa-nowhere', withStrangersProof(unknown.finish)))).toEqual(failedProof);
    await unknown.handshake.abort();

    // When a hello on the predecessor comes
    const predecessor = await run('meter-1-svc', 'sa-after');
    // Then the service's log is told why, and the challenge is shaped as any other; a stranger's finish gets a failed proof
    expect(predecessor.logged).toEqual(['credential_revoked']);
    expect(shape(predecessor.challenge)).toEqual(shape(usable.challenge));
    expect(await told(() => endpoint.acceptFinish('sa-after', withStrangersProof(predecessor.finish)))).toEqual(failedProof);
    await predecessor.handshake.abort();
    // and its holder, proving itself, is told why at the finish
    const holder = await run('meter-1-svc', 'sa-after');
    expect((await told(() => endpoint.acceptFinish('sa-after', holder.finish))).problem).toMatchObject({ step: 'association.finish', reason: 'credential_revoked' });
    await holder.handshake.abort();
    // as it is when the handshake runs in process (no association scope)
    const inProcess = w.procedures.establish({ device, associationId: 'sa-after', credentialId: 'meter-1-svc', lifetimeSeconds: 600, registreeId: device.cseId! });
    await expect(inProcess).rejects.toMatchObject({ problem: expect.objectContaining({ step: 'association.finish', reason: 'credential_revoked' }) });

    // And nothing was recorded, no run is left but the three a stranger's failed proof left going (review 238: real and
    // decoy alike), which end at their expiry, and the association still waits for a handshake
    expect(await footprint(w.credence.store)).toEqual(before);
    expect(w.infrastructure.registrar.sessionCount).toBe(3);
    expect(await stateOf(w, 'association', 'sa-after')).toBe('initialized');
  });
});
