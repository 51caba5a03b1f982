/**
 * Review 249's follow-up, seed 003 11.2.2: machines v10 refuses an AE association on a credential owned by its App-ID
 * unless it is of purpose application and the one the App-ID is enrolled with now (rule appCredentialIsEnrolled), yet
 * the Registrar's hello did not ask it: a handshake on the credential an App-ID was moved off (`enrolApplication
 * --replaces`) passed the hello and every step, the device doing all its work and deriving a session key, and was
 * refused only when its finish was recorded (409). The hello now asks the rule, as it asks the association's other
 * rules: such a hello gets a decoy challenge, its holder is told why at the finish, and nothing is recorded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CredenceError } from '../domain/errors.ts';
import { RegistrarEndpoint } from '../adapters/protocols/procedures/index.ts';
import { footprint } from './support/fleet.ts';
import { shape, told, withStrangersProof } from './support/protocol-answers.ts';
import { AE, APP, appCredentialOn, associationState, configureAeOnMeter1, runAsOperator } from './support/app-credential-on-device.ts';
import { securityWorld } from './support/security-world.ts';

type World = Awaited<ReturnType<typeof securityWorld>>;
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});


describe('an AE association hello on the credential its App-ID was moved off (review 249, seed 003 11.2.2)', () => {
  it('gets a decoy challenge, answered as an unknown credential\'s; its holder is told why at the finish; nothing recorded', async () => {
    const w = (world = await securityWorld('app-credential-moved-off-hello'));
    // Given App-ID APP enrolled with app-cred-a, both its credentials' keys on meter-1, and an AE association on
    // app-cred-a configured while it was the one (configuring it is refused since the move, machines v10)
    const meter1 = await w.provisioned('meter-1', 'ed25519', 'ed25519');
    await runAsOperator(w, 'registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' });
    await appCredentialOn(w, meter1, 'app-cred-a');
    await appCredentialOn(w, meter1, 'app-cred-b');
    await runAsOperator(w, 'enrolApplication', { appId: APP, credentialId: 'app-cred-a' });
    await configureAeOnMeter1(w, 'sa-a-ok', 'app-cred-a');
    await configureAeOnMeter1(w, 'sa-a', 'app-cred-a');
    // (a handshake on it runs while the App-ID is enrolled with it)
    await w.procedures.establish({ device: meter1, associationId: 'sa-a-ok', credentialId: 'app-cred-a', lifetimeSeconds: 600, registreeId: AE });
    expect(await associationState(w, 'sa-a-ok')).toBe('associated');
    // When the App-ID is moved onto app-cred-b
    await runAsOperator(w, 'enrolApplication', { appId: APP, credentialId: 'app-cred-b', replaces: 'app-cred-a' });
    await configureAeOnMeter1(w, 'sa-b', 'app-cred-b');
    await w.credence.settle();
    expect(await associationState(w, 'sa-a')).toBe('initialized');
    const before = await footprint(w.credence.store);

    const endpoint = new RegistrarEndpoint(w.infrastructure);
    const pinned = await w.infrastructure.pinned('registrar');
    const hello = async (credentialId: string, associationId: string) => {
      const handshake = await meter1.registree(credentialId, AE, { id: pinned.id, key: pinned.publicKey }).start({ lifetimeSeconds: 600, associationId });
      const concealed: CredenceError[] = [];
      const challenge = await endpoint.acceptHello(associationId, handshake.hello, undefined, (refusal) => concealed.push(refusal));
      const { finish } = await handshake.acceptChallenge(challenge);
      const logged = concealed.map((r) => ((r.cause as CredenceError | undefined)?.problem as { reason?: string } | undefined)?.reason);
      return { handshake, challenge, finish, logged };
    };

    // What the credential it is enrolled with now answers: a real run, a stranger's finish a failed proof
    const usable = await hello('app-cred-b', 'sa-b');
    expect(usable.logged).toEqual([]);
    const failedProof = await told(() => endpoint.acceptFinish('sa-b', withStrangersProof(usable.finish)));
    expect(failedProof.problem).toMatchObject({ step: 'association.finish', reason: 'bad_signature' });
    await usable.handshake.abort();

    // Then a hello on app-cred-a is refused at the hello: its reason logged, a challenge shaped as any other
    const moved = await hello('app-cred-a', 'sa-a');
    expect(moved.logged).toEqual(['unknown_credential']);
    expect(shape(moved.challenge)).toEqual(shape(usable.challenge));
    expect(await told(() => endpoint.acceptFinish('sa-a', withStrangersProof(moved.finish)))).toEqual(failedProof);
    await moved.handshake.abort();
    // and its holder, proving itself, is told why at the finish, not a 409 from the record
    const holder = await hello('app-cred-a', 'sa-a');
    expect((await told(() => endpoint.acceptFinish('sa-a', holder.finish))).problem).toMatchObject({
      step: 'association.finish', reason: 'app_id_not_enrolled', message: expect.stringContaining(`credential app-cred-a is not the one App-ID ${APP} is enrolled with (credential app-cred-b)`),
    });
    await holder.handshake.abort();

    // And nothing was recorded, the association still waits, and the credential it moved onto associates
    expect(await footprint(w.credence.store)).toEqual(before);
    expect(await associationState(w, 'sa-a')).toBe('initialized');
    await w.procedures.establish({ device: meter1, associationId: 'sa-b', credentialId: 'app-cred-b', lifetimeSeconds: 600, registreeId: AE });
    expect(await associationState(w, 'sa-b')).toBe('associated');
  });
});
