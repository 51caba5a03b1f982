import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { protocolFailure } from '../domain/protocols/protocol.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';
import { securityWorld } from './support/security-world.ts';
import { keysMadeBy } from './support/keys-made.ts';

/*
 * Found in review: the in-process `SecurityProcedures` ended a run the Enrolment Function or the Registrar refused
 * without ending the device's side of it. The key pair the node generates for its new credential (at the challenge)
 * stayed in its Secure Environment when the auth or the receipt was refused, and so did the key it received or kept
 * at the delivery; the Registree's ephemeral key, and after its finish its handshake secret and Finished keys,
 * outlived a refused hello or finish. provisionOverHttp already ended the run on any failure.
 */

type World = Awaited<ReturnType<typeof securityWorld>>;
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** The rows of the device's Secure Environment database: every stored key it holds. */
const storedKeys = (w: World, nodeId: string): number => {
  const db = new Database(join(w.dir, `${nodeId}-se.sqlite`), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM se_keys').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

/** Every key the device's Secure Environment makes from now on, stored or ephemeral. */
const watchKeys = (w: World, device: Parameters<World['seOf']>[0]): KeyHandle[] => keysMadeBy(w.seOf(device), ['generate', 'agree', 'deriveKey']);

const alive = async (w: World, device: Parameters<World['seOf']>[0], handles: readonly KeyHandle[]): Promise<KeyHandle[]> => {
  const out: KeyHandle[] = [];
  for (const handle of handles) if (await w.seOf(device).describe(device.owner, handle).then(() => true, () => false)) out.push(handle);
  return out;
};

/** A node registered at the factory with its bootstrap credential, not enrolled (so provisioning is refused at auth). */
const preProvisioned = async (w: World, nodeId: string) => {
  const device = w.device(nodeId);
  await w.procedures.preProvision({
    device, profile, bootstrapCredentialId: `${nodeId}-boot`, kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) },
  });
  return device;
};

describe('SecurityProcedures.provisionRemotely, refused by the Enrolment Function', () => {
  it('refused at auth (the node is not enrolled): the key pair the node generated for it is destroyed', async () => {
    world = await securityWorld('refused-at-auth');
    const w = world;
    const device = await preProvisioned(w, 'zz-unenrolled');
    const before = storedKeys(w, 'zz-unenrolled');
    const made = watchKeys(w, device);
    const refused = await w.procedures.provisionRemotely({ device, credentialId: 'zz-unenrolled-svc', kind: 'ed25519' }).catch((e: unknown) => e);
    expect(isCredenceError(refused, 'validation')).toBe(true);
    expect(made.length).toBeGreaterThan(0);
    expect(storedKeys(w, 'zz-unenrolled')).toBe(before);
    expect(await alive(w, device, made)).toEqual([]);
    expect(device.credentials.has('zz-unenrolled-svc')).toBe(false);
  });

  for (const kind of ['ed25519', 'psk256'] as const) {
    it(`${kind}: refused at the receipt, the credential the device was delivered or generated is destroyed`, async () => {
      world = await securityWorld(`refused-at-receipt-${kind}`);
      const w = world;
      const device = await preProvisioned(w, 'zz-receipt');
      await w.credence.engine.execute({
        type: 'enrolNode', data: { nodeId: 'zz-receipt', subscriptionId: 'sub-1', cseId: '/zz-receipt-cse' }, metadata: { actor: operator },
      });
      const before = storedKeys(w, 'zz-receipt');
      const made = watchKeys(w, device);
      const ef = w.infrastructure.enrolmentFunction;
      ef.acceptReceipt = async () => {
        throw protocolFailure('provisioning.receipt', 'bad_signature');
      };
      const refused = await w.procedures.provisionRemotely({ device, credentialId: 'zz-receipt-svc', kind }).catch((e: unknown) => e);
      expect(isCredenceError(refused, 'protocol') && refused.problem).toMatchObject({ step: 'provisioning.receipt', reason: 'bad_signature' });
      expect(storedKeys(w, 'zz-receipt')).toBe(before);
      expect(await alive(w, device, made)).toEqual([]);
      expect(device.credentials.has('zz-receipt-svc')).toBe(false);
    });
  }
});

describe('SecurityProcedures.establish, refused by the Registrar', () => {
  it('a run of a revoked credential (a decoy challenge, refused at the finish): the Registree\'s keys are destroyed', async () => {
    world = await securityWorld('establish-hello');
    const w = world;
    const device = await w.provisioned('zz-assoc', 'ed25519', 'ed25519');
    // Configured before the revocation: an association never configured names no credential its holder could prove.
    await w.credence.engine.execute({
      type: 'configureAssociation',
      data: { associationId: 'zz-sa', nodeId: 'zz-assoc', credentialId: 'zz-assoc-svc', registree: { kind: 'cse', id: device.cseId! }, registrarCseId: w.infrastructure.registrarCseId },
      metadata: { actor: operator },
    });
    await w.credence.engine.execute({ type: 'revokeCredential', data: { credentialId: 'zz-assoc-svc', reason: 'keyCompromise' }, metadata: { actor: operator } });
    const made = watchKeys(w, device);
    const refused = await w.procedures
      .establish({ device, associationId: 'zz-sa', credentialId: 'zz-assoc-svc', lifetimeSeconds: 3600, registreeId: device.cseId! })
      .catch((e: unknown) => e);
    // Its hello gets a decoy challenge (shared/decoy.ts); the holder is told why at the finish.
    expect(isCredenceError(refused, 'protocol') && refused.problem).toMatchObject({ step: 'association.finish', reason: 'credential_revoked' });
    expect(made.length).toBeGreaterThan(0);
    expect(await alive(w, device, made)).toEqual([]);
  });

  it('a finish refused: the Registree\'s handshake secret and Finished keys are destroyed', async () => {
    world = await securityWorld('establish-finish');
    const w = world;
    const device = await w.provisioned('zz-finish', 'ed25519', 'ed25519');
    await w.credence.engine.execute({
      type: 'configureAssociation',
      data: { associationId: 'zz-sa', nodeId: 'zz-finish', credentialId: 'zz-finish-svc', registree: { kind: 'cse', id: device.cseId! }, registrarCseId: w.infrastructure.registrarCseId },
      metadata: { actor: operator },
    });
    const made = watchKeys(w, device);
    w.infrastructure.registrar.acceptFinish = async () => {
      throw protocolFailure('association.finish', 'bad_signature');
    };
    const refused = await w.procedures
      .establish({ device, associationId: 'zz-sa', credentialId: 'zz-finish-svc', lifetimeSeconds: 3600, registreeId: device.cseId! })
      .catch((e: unknown) => e);
    expect(isCredenceError(refused, 'protocol') && refused.problem).toMatchObject({ step: 'association.finish', reason: 'bad_signature' });
    expect(made.length).toBeGreaterThan(1);
    expect(await alive(w, device, made)).toEqual([]);
  });
});
