/**
 * Review 249's follow-up, the in-process path: the Registrar's hello over HTTP runs the association's rules (its
 * credential usable, node enrolled, subscription serving, CSE-ID held, App-ID enrolled, appCredentialIsEnrolled, ...)
 * and answers a decoy when one fails, but the operator's in-process `SecurityProcedures.establish` looked the
 * credential up by id only, outside the association, and ran none of them at its hello: a handshake on the credential
 * an App-ID was moved off (`enrolApplication --replaces`) ran to its finish, both ends deriving session keys, and was
 * refused only when recorded (409). It now runs the endpoint's lookup and rules, and is answered as the endpoint
 * answers: a decoy challenge, its holder told why at the finish, no session key made, nothing recorded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RegistrarEndpoint } from '../adapters/protocols/procedures/index.ts';
import { footprint } from './support/fleet.ts';
import { told } from './support/protocol-answers.ts';
import { AE, APP, appCredentialOn, associationState, configureAeOnMeter1, runAsOperator } from './support/app-credential-on-device.ts';
import { securityWorld } from './support/security-world.ts';

type World = Awaited<ReturnType<typeof securityWorld>>;
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});


describe('the in-process establish on the credential its App-ID was moved off (review 249 follow-up, seed 003 11.2.2)', () => {
  it('is refused at the hello as the Registrar endpoint refuses it: its holder told why at the finish, no session key made, nothing recorded', async () => {
    const w = (world = await securityWorld('in-process-app-credential-moved-off'));
    // Given App-ID APP enrolled with app-cred-a, both its credentials' keys on meter-1, and an AE association on
    // app-cred-a configured while it was the one, then the App-ID moved onto app-cred-b
    const meter1 = await w.provisioned('meter-1', 'ed25519', 'ed25519');
    await runAsOperator(w, 'registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' });
    await appCredentialOn(w, meter1, 'app-cred-a');
    await appCredentialOn(w, meter1, 'app-cred-b');
    await runAsOperator(w, 'enrolApplication', { appId: APP, credentialId: 'app-cred-a' });
    await configureAeOnMeter1(w, 'sa-a', 'app-cred-a');
    await runAsOperator(w, 'enrolApplication', { appId: APP, credentialId: 'app-cred-b', replaces: 'app-cred-a' });
    await configureAeOnMeter1(w, 'sa-b', 'app-cred-b');
    await w.credence.settle();
    expect(await associationState(w, 'sa-a')).toBe('initialized');
    const before = await footprint(w.credence.store);
    // (the Registrar keeps the session keys of a run that passed its finish: none is kept for a run refused at its hello)
    const kept: string[] = [];
    const keepSessionKeys = w.infrastructure.keepSessionKeys.bind(w.infrastructure);
    w.infrastructure.keepSessionKeys = (associationId, outcome) => {
      kept.push(associationId);
      keepSessionKeys(associationId, outcome);
    };

    // What the endpoint tells the holder of app-cred-a at the finish
    const endpoint = new RegistrarEndpoint(w.infrastructure);
    const pinned = await w.infrastructure.pinned('registrar');
    const handshake = await meter1.registree('app-cred-a', AE, { id: pinned.id, key: pinned.publicKey }).start({ lifetimeSeconds: 600, associationId: 'sa-a' });
    const { finish } = await handshake.acceptChallenge(await endpoint.acceptHello('sa-a', handshake.hello));
    const overHttp = await told(() => endpoint.acceptFinish('sa-a', finish));
    await handshake.abort();
    expect(overHttp.problem).toMatchObject({ step: 'association.finish', reason: 'app_id_not_enrolled' });

    // When the operator runs the handshake in process
    const inProcess = await told(() => w.procedures.establish({ device: meter1, associationId: 'sa-a', credentialId: 'app-cred-a', lifetimeSeconds: 600, registreeId: AE }));

    // Then it is told the same (before: a 409 from the record, both ends having derived their session keys)
    expect(inProcess).toEqual(overHttp);
    expect(kept).toEqual([]);
    expect(w.credence.keyRegistry?.live('association-sa-a')).toEqual([]);
    expect(await footprint(w.credence.store)).toEqual(before);
    expect(await associationState(w, 'sa-a')).toBe('initialized');
    // And the association on the credential it moved onto is established in process
    await w.procedures.establish({ device: meter1, associationId: 'sa-b', credentialId: 'app-cred-b', lifetimeSeconds: 600, registreeId: AE });
    expect(await associationState(w, 'sa-b')).toBe('associated');
    expect(kept).not.toContain('sa-a');
    expect(kept).toContain('sa-b');
  });
});
