import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { concealedRefusal } from '../domain/protocols/protocol.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { EF_OWNER, provisioningWorld, type ProvisioningWorld } from './provisioning-protocol.fixtures.ts';
import { keysMadeBy } from './support/keys-made.ts';

/*
 * Found in review: a Secure Environment key that is gone during a provisioning step. The PSK copy stored at the
 * receipt was made before steps that could still fail, and outlived their refusal with no cleanup or registry knowing
 * it; the loss of the Enrolment Function's own signing key was answered as the node's credential being revoked; and
 * at the hello the missing bootstrap PSK escaped as "key key_… does not exist".
 */

/** Every key the Enrolment Function's Secure Environment makes or imports from now on. */
const watchKeys = (world: ProvisioningWorld): KeyHandle[] => keysMadeBy(world.efSe, ['generate', 'unwrap']);

const alive = async (world: ProvisioningWorld, handles: readonly KeyHandle[]) => {
  const out: KeyHandle[] = [];
  for (const handle of handles) if (await world.efSe.describe(EF_OWNER, handle).then(() => true, () => false)) out.push(handle);
  return out;
};

const upToReceipt = async (world: ProvisioningWorld) => {
  const session = await world.client.start({ credentialKind: 'psk256' });
  const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
  return (await session.acceptDelivery(await world.ef.acceptAuth(auth))).receipt;
};

describe('a provisioning step whose Secure Environment key is gone', () => {
  it('leaves no key of the run behind when the bootstrap PSK is shredded while the receipt is being accepted', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'psk256' });
    const made = watchKeys(world);
    const receipt = await upToReceipt(world);
    // The bootstrap is revoked and shredded the moment the infrastructure's copy of the new PSK is stored.
    const unwrap = world.efSe.unwrap.bind(world.efSe);
    world.efSe.unwrap = async (owner, kek, wrapped, aad, spec) => {
      const handle = await unwrap(owner, kek, wrapped, aad, spec);
      if (spec.ephemeral !== true) await world.efSe.destroy(EF_OWNER, world.bootstrap.efHandle!);
      return handle;
    };
    const answer = await world.ef.acceptReceipt(receipt).then(
      (outcome) => ({ outcome }),
      (error: unknown) => ({ error }),
    );
    // Either the receipt was accepted before the key went (its stored copy handed over), or refused leaving nothing.
    if ('outcome' in answer) expect(await alive(world, made)).toEqual([answer.outcome.credentialKeyHandle]);
    else expect(await alive(world, made)).toEqual([]);
  });

  it("refuses the node's receipt as a failed proof once its bootstrap is gone, logged as revoked; the service's own lost key is an internal error naming no handle to the node", async () => {
    const revoked = await provisioningWorld({ bootstrapKind: 'psk256' });
    const receipt = await upToReceipt(revoked);
    await revoked.efSe.destroy(EF_OWNER, revoked.bootstrap.efHandle!);
    const refused = await revoked.ef.acceptReceipt(receipt).catch((e: unknown) => e);
    // Told as a wrong bootstrap proof (review 400: the node's own receipt cannot be told from a forged one once its
    // bootstrap PSK is gone); the log keeps the real reason.
    expect(isCredenceError(refused, 'protocol') && refused.problem).toMatchObject({ step: 'provisioning.receipt', reason: 'bad_mac' });
    expect(concealedRefusal(refused)).toMatchObject({ step: 'provisioning.receipt', reason: 'credential_revoked', told: 'bad_mac' });
    expect((refused as Error).message).not.toMatch(/key_[A-Za-z0-9_-]{24}/);

    const lost = await provisioningWorld({ bootstrapKind: 'psk256' });
    const receipt2 = await upToReceipt(lost);
    // With a PSK bootstrap, the one signature the receipt step makes is the Enrolment Function's own: its key is lost.
    const sign = lost.efSe.sign.bind(lost.efSe);
    lost.efSe.sign = async (owner, handle, message) => {
      await lost.efSe.destroy(owner, handle);
      return sign(owner, handle, message);
    };
    const failed = await lost.ef.acceptReceipt(receipt2).catch((e: unknown) => e);
    expect(isCredenceError(failed)).toBe(false);
    expect((failed as Error).message).toMatch(/provisioning\.receipt: a key of this service is missing from its Secure Environment/);
  });

  it('answers a hello whose bootstrap PSK is gone as any unusable credential, a decoy challenge (revoked, in the log), naming no handle', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'psk256' });
    await world.efSe.destroy(EF_OWNER, world.bootstrap.efHandle!);
    const session = await world.client.start({ credentialKind: 'psk256' });
    const told: unknown[] = [];
    const challenge = await world.ef.acceptHello(session.hello, {}, undefined, (refusal) => told.push(refusal));
    expect(challenge).toMatchObject({ type: 'provisioning.challenge', nodeId: session.hello.nodeId });
    const [refused] = told;
    expect(isCredenceError(refused, 'protocol') && refused.problem).toMatchObject({ step: 'provisioning.hello', reason: 'unknown_credential' });
    expect(concealedRefusal(refused)).toMatchObject({ step: 'provisioning.hello', reason: 'credential_revoked' });
    expect(concealedRefusal(refused)?.message).not.toMatch(/key_[A-Za-z0-9_-]{24}/);
    expect((refused as Error).message).not.toMatch(/key_[A-Za-z0-9_-]{24}/);
  });
});
