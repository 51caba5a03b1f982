import { afterEach, describe, expect, it } from 'vitest';
import type { Device } from '../adapters/protocols/procedures/index.ts';
import { recordProvisioning } from '../adapters/protocols/procedures/index.ts';
import { ENROLMENT_SESSION_TIMEOUT_SECONDS } from '../adapters/protocols/procedures/cut-provisioning.ts';
import { CredenceError } from '../domain/errors.ts';
import { restartableWorld, type RestartableWorld } from './support/restartable-world.ts';

// Review 138: a key pair's run is recorded in keys.db from its receipt until its outcome is recorded, so a start finds
// a run cut between `CredentialIssued` and `CredentialProvisioned` (the server keeps no key of it). The record was
// written INSERT OR IGNORE and ended by credential id: a twin run of the same id, refused at its record, deleted the
// record of the run that had issued the credential and still waited to provision it; a crash between those two
// appends then left the credential `initialized` for good, its certificate never revoked.

let world: RestartableWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const CREDENTIAL = 'meter-1-svc';

/** A key pair's run of CREDENTIAL through to its accepted receipt, its outcome not recorded yet. */
const accepted = async (w: RestartableWorld, device: Device) => {
  const infra = w.infrastructure;
  const client = device.provisioningClient({ id: infra.enrolmentFunctionId, publicKey: { kind: infra.signing.kind, bytes: infra.signing.efPublicKey } });
  const session = await client.start({ credentialKind: 'ed25519', credentialId: CREDENTIAL });
  const auth = await session.acceptChallenge(await infra.enrolmentFunction.acceptHello(session.hello));
  const { receipt } = await session.acceptDelivery(await infra.enrolmentFunction.acceptAuth(auth));
  const outcome = await infra.enrolmentFunction.acceptReceipt(receipt);
  // The claim that now keeps a twin from its auth is let go by hand, so the next run gets as far as a twin once did.
  infra.settleCredentialId(CREDENTIAL, outcome.sessionId);
  return outcome;
};

const keyPairRuns = (w: RestartableWorld) => w.infrastructure.o.registry.keyPairRuns().map((r) => r.credentialId);

describe("a key pair's run record", () => {
  it('is left by a twin refused at its record, so a crash of the run between its two appends is still revoked at the next start', async () => {
    world = await restartableWorld('key-pair-run-twin');
    const w = world;
    const device = await w.enrolled('meter-1', 'ed25519');
    const first = await accepted(w, device);
    const twin = await accepted(w, device);

    // The first run issues the credential, and stops before `provisionCredential` until told how it ends.
    const run = w.infrastructure.run.bind(w.infrastructure);
    let issued!: () => void;
    const between = new Promise<void>((resolve) => (issued = resolve));
    let die!: (error: Error) => void;
    w.infrastructure.run = (async (type, data, correlationId) => {
      if (type !== 'provisionCredential') return run(type, data, correlationId);
      issued();
      return new Promise((_, reject) => (die = reject));
    }) as typeof w.infrastructure.run;
    const recording = recordProvisioning(w.infrastructure, { outcome: first, credentialId: CREDENTIAL, purpose: 'service' }).catch((e: unknown) => e);
    await between;
    expect(keyPairRuns(w)).toEqual([CREDENTIAL]);

    // The twin is refused at its record (the credential is issued already): it wrote no record, and ends none.
    const refused = await recordProvisioning(w.infrastructure, { outcome: twin, credentialId: CREDENTIAL, purpose: 'service' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CredenceError);
    expect(keyPairRuns(w)).toEqual([CREDENTIAL]);

    // The process dies between the first run's two appends (an outcome it cannot know): the record stays for the start.
    die(new Error('the process died here'));
    expect(((await recording) as Error).message).toBe('the process died here');
    expect(keyPairRuns(w)).toEqual([CREDENTIAL]);
    expect(String((await w.credence.engine.entity('credential', CREDENTIAL)).snapshot.value)).toBe('initialized');

    await w.restart(() => w.clock.advance(ENROLMENT_SESSION_TIMEOUT_SECONDS * 1000));
    const credential = await w.credence.engine.entity('credential', CREDENTIAL);
    expect(String(credential.snapshot.value)).toBe('revoked');
    expect(keyPairRuns(w)).toEqual([]);
  });

  it('is ended by the run that began it once its outcome is recorded', async () => {
    world = await restartableWorld('key-pair-run-own');
    const w = world;
    const device = await w.enrolled('meter-1', 'ed25519');
    await w.procedures.provisionRemotely({ device, credentialId: CREDENTIAL, kind: 'ed25519' });
    expect(String((await w.credence.engine.entity('credential', CREDENTIAL)).snapshot.value)).toBe('enrolled');
    expect(keyPairRuns(w)).toEqual([]);
  });
});
