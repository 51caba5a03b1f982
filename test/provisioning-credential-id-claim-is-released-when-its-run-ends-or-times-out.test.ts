import { afterEach, describe, expect, it } from 'vitest';
import { ENROLMENT_SESSION_TIMEOUT_SECONDS } from '../adapters/protocols/procedures/cut-provisioning.ts';
import { isCredenceError } from '../domain/errors.ts';
import { delivered, restartableWorld, type RestartableWorld } from './support/restartable-world.ts';

// Review 138: an authenticated run claims its credential id (credential-ids-in-flight.ts), so a second run of the id
// is refused at its auth. The claim must not outlive the run: a run refused after its auth, or abandoned, would
// otherwise keep the id from its node's next run for good.

let world: RestartableWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const flipped = (proof: string): string => `${proof[0] === 'A' ? 'B' : 'A'}${proof.slice(1)}`;

const refusedAsInUse = (error: unknown) =>
  isCredenceError(error) && error.problem.code === 'validation' && error.problem.issues.some((i) => i.path === 'credentialId' && i.rule === 'unused');

const stateOf = async (w: RestartableWorld, credentialId: string) => String((await w.credence.engine.entity('credential', credentialId)).snapshot.value);

describe('the credential id an authenticated run claims', () => {
  // Another node's run: the same node's newer run ends this one instead (review 140, a retry after a lost delivery).
  it("is held while the run waits for its receipt: another node's run of the id is refused at its auth", async () => {
    world = await restartableWorld('claim-held');
    const device = await world.enrolled('meter-1', 'ed25519');
    const other = await world.enrolled('meter-2', 'ed25519');
    const first = await delivered(world, device, 'meter-1-svc');
    const second = await world.procedures.provisionRemotely({ device: other, credentialId: 'meter-1-svc', kind: 'psk256' }).catch((e: unknown) => e);
    expect(refusedAsInUse(second)).toBe(true);
    await first.session.abort();
  });

  it('is released when the run is refused at its receipt: the next run of the id is recorded', async () => {
    world = await restartableWorld('claim-released-at-refusal');
    const device = await world.enrolled('meter-1', 'ed25519');
    const { session, receipt } = await delivered(world, device, 'meter-1-svc');
    const refused = await world.infrastructure.enrolmentFunction.acceptReceipt({ ...receipt, credentialProof: flipped(receipt.credentialProof) }).catch((e: unknown) => e);
    expect(isCredenceError(refused, 'protocol')).toBe(true);
    await session.abort();
    await world.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'psk256' });
    expect(await stateOf(world, 'meter-1-svc')).toBe('enrolled');
  });

  it('is released once the run times out, though no tick has ended it yet: the next run of the id is recorded', async () => {
    world = await restartableWorld('claim-released-at-timeout');
    const device = await world.enrolled('meter-1', 'ed25519');
    const { session } = await delivered(world, device, 'meter-1-svc');
    world.clock.advance(ENROLMENT_SESSION_TIMEOUT_SECONDS * 1000);
    await world.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'psk256' });
    expect(await stateOf(world, 'meter-1-svc')).toBe('enrolled');
    await session.abort();
  });

  it('is released once the run times out, where the hello of the next run evicts nothing: the expired runs end at its auth', async () => {
    world = await restartableWorld('claim-released-at-timeout-behind-a-live-run');
    const w = world;
    const device = await w.enrolled('meter-1', 'ed25519');
    const other = await w.enrolled('meter-2', 'ed25519');
    const infra = w.infrastructure;
    const pinned = { id: infra.enrolmentFunctionId, publicKey: { kind: infra.signing.kind, bytes: infra.signing.efPublicKey } };
    // meter-1's run hellos first, then another node's a second later, then meter-1's auth: the table holds the other
    // node's run first, so a hello's sweep of expired runs (SessionTable.add) stops there and never reaches meter-1's.
    const session = await device.provisioningClient(pinned).start({ credentialKind: 'psk256', credentialId: 'meter-1-svc' });
    const auth = await session.acceptChallenge(await infra.enrolmentFunction.acceptHello(session.hello));
    w.clock.advance(1000);
    const elsewhere = await other.provisioningClient(pinned).start({ credentialKind: 'psk256', credentialId: 'meter-2-svc' });
    await infra.enrolmentFunction.acceptHello(elsewhere.hello);
    await session.acceptDelivery(await infra.enrolmentFunction.acceptAuth(auth));
    w.clock.advance(ENROLMENT_SESSION_TIMEOUT_SECONDS * 1000 - 1000);
    await w.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'psk256' });
    expect(await stateOf(w, 'meter-1-svc')).toBe('enrolled');
    await session.abort();
    await elsewhere.abort();
  });

  it('is released once its run is recorded, or has failed to: the id is then decided by the store alone', async () => {
    world = await restartableWorld('claim-released-at-record');
    const w = world;
    const device = await w.enrolled('meter-1', 'ed25519');
    // A run whose recording fails before its first append leaves nothing recorded: the id stays free for the next run.
    const run = w.infrastructure.run.bind(w.infrastructure);
    let failOnce = true;
    w.infrastructure.run = (async (type, data, correlationId) => {
      if (type === 'issueCredential' && failOnce) {
        failOnce = false;
        throw new Error('the store refused the append');
      }
      return run(type, data, correlationId);
    }) as typeof w.infrastructure.run;
    const failed = await w.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'psk256' }).catch((e: unknown) => e);
    expect((failed as Error).message).toContain('the store refused the append');
    await w.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'psk256' });
    expect(await stateOf(w, 'meter-1-svc')).toBe('enrolled');
    // Recorded, the id is refused by its events, as before any claim.
    const again = await w.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'psk256' }).catch((e: unknown) => e);
    expect(refusedAsInUse(again)).toBe(true);
  });
});
