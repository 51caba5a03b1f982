/**
 * Review 64 F2, the association side (seeds 002/004 unobservability; SER-001): before any proof, a stranger must not
 * learn what became of an association, its node, App-ID or credential by the time its hello takes. The Registrar CSE's
 * lookups stopped at the first rule that failed: an association never configured read one stream, one whose
 * subscription had ended three, a usable CSE association six and the key registry once, an AE's two more; and the
 * Registrar asks for the credential the association was configured with only when the lookup found none. Every hello
 * now makes the same reads. Counted, not timed: the machines the suite runs on are too noisy for a timing assertion.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import type { CredenceError } from '../domain/errors.ts';
import { RegistrarEndpoint, type Device } from '../adapters/protocols/procedures/index.ts';
import { at, cmd, operator, profile, T0 } from './support/fleet.ts';
import { watchCalls } from './support/call-log.ts';
import { securityWorld } from './support/security-world.ts';

type World = Awaited<ReturnType<typeof securityWorld>>;
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** The kind of stream a call's first argument names (`node-meter-1`: node). */
const streamKind = (args: readonly unknown[]): string => String(args[0]).split('-')[0]!;

const APPS = { usable: { appId: 'Rbilling', id: 'Cbilling' }, revoked: { appId: 'Rmetering', id: 'Cmetering' } } as const;

/** An App-ID enrolled with its own credential, valid for a year. */
const enrolApplication = async (w: World, appId: string) => {
  const run = (type: string, data: Record<string, unknown>) => w.credence.engine.execute(command(type as never, data as never, { actor: operator }));
  await run('registerApplication', { appId, name: appId, provider: 'City Utilities' });
  await w.credence.engine.execute(cmd.issueCredential(`${appId}-cred`, appId, at(365), { purpose: 'application', owner: { kind: 'app', id: appId } }));
  await w.credence.engine.execute(cmd.provisionCredential(`${appId}-cred`));
  await run('enrolApplication', { appId, credentialId: `${appId}-cred` });
};

const configure = (w: World, associationId: string, nodeId: string, credentialId: string, registree: Record<string, string>) =>
  w.credence.engine.execute(command('configureAssociation', {
    associationId, nodeId, credentialId, registree, registrarCseId: w.infrastructure.registrarCseId,
  }, { actor: operator }));

/** meter-2 enrolled under its own subscription sub-2, with service credential meter-2-svc. */
const underOwnSubscription = async (w: World): Promise<Device> => {
  await w.credence.engine.execute(cmd.createSubscription('sub-2', at(365)));
  const device = w.device('meter-2');
  await w.procedures.preProvision({ device, profile, bootstrapCredentialId: 'meter-2-boot', kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } });
  await w.credence.engine.execute(command('enrolNode', { nodeId: 'meter-2', subscriptionId: 'sub-2', cseId: '/meter-2-cse' }, { actor: operator }));
  await w.procedures.provisionRemotely({ device, credentialId: 'meter-2-svc', kind: 'ed25519' });
  return device;
};

const stateOf = async (w: World, kind: 'association' | 'node' | 'credential' | 'application' | 'subscription', id: string) =>
  String((await w.credence.engine.entity(kind, id)).snapshot.value);

describe('an association hello through the Registrar CSE, whatever became of the association it names', () => {
  it('makes the same store and key registry reads, in the same order, for each, and is answered as before', async () => {
    world = await securityWorld('association-hello-reads');
    const w = world;
    // Given meter-1 with a usable CSE and AE association, one established, a second service credential,
    const meter1 = await w.provisioned('meter-1', 'ed25519', 'ed25519');
    await w.procedures.provisionRemotely({ device: meter1, credentialId: 'meter-1-other', kind: 'ed25519' });
    for (const app of Object.values(APPS)) await enrolApplication(w, app.appId);
    await configure(w, 'sa-cse', 'meter-1', 'meter-1-svc', { kind: 'cse', id: meter1.cseId! });
    await configure(w, 'sa-ae', 'meter-1', 'meter-1-svc', { kind: 'ae', ...APPS.usable });
    await configure(w, 'sa-app-revoked', 'meter-1', 'meter-1-svc', { kind: 'ae', ...APPS.revoked });
    await configure(w, 'sa-established', 'meter-1', 'meter-1-svc', { kind: 'cse', id: meter1.cseId! });
    await w.procedures.establish({ device: meter1, associationId: 'sa-established', credentialId: 'meter-1-svc', lifetimeSeconds: 600, registreeId: meter1.cseId! });
    // and, each waiting for its handshake, one whose subscription, node, App-ID or credential ended since, the
    // cascade not having ended the association yet
    const meter2 = await underOwnSubscription(w);
    await configure(w, 'sa-sub-ended', 'meter-2', 'meter-2-svc', { kind: 'cse', id: meter2.cseId! });
    const meter3 = await w.provisioned('meter-3', 'ed25519', 'ed25519');
    await configure(w, 'sa-node-revoked', 'meter-3', 'meter-3-svc', { kind: 'cse', id: meter3.cseId! });
    const meter4 = await w.provisioned('meter-4', 'ed25519', 'ed25519');
    await configure(w, 'sa-cred-revoked', 'meter-4', 'meter-4-svc', { kind: 'cse', id: meter4.cseId! });
    await w.credence.settle();
    await w.credence.engine.execute(command('terminateSubscription', { subscriptionId: 'sub-2', reason: 'contract ended' }, { actor: operator }));
    await w.credence.engine.execute(command('revokeNode', { nodeId: 'meter-3', reason: 'cessationOfOperation' }, { actor: operator }));
    await w.credence.engine.execute(command('revokeApplication', { appId: APPS.revoked.appId, reason: 'privilegeWithdrawn' }, { actor: operator }));
    await w.credence.engine.execute(cmd.revokeCredential('meter-4-svc'));
    expect(await stateOf(w, 'subscription', 'sub-2')).toBe('revoked');
    expect(await stateOf(w, 'node', 'meter-3')).toBe('revoked');
    expect(await stateOf(w, 'application', APPS.revoked.appId)).toBe('revoked');
    expect(await stateOf(w, 'credential', 'meter-4-svc')).toBe('revoked');
    expect(await stateOf(w, 'association', 'sa-established')).toBe('associated');
    for (const id of ['sa-sub-ended', 'sa-node-revoked', 'sa-app-revoked', 'sa-cred-revoked']) expect(await stateOf(w, 'association', id), id).toBe('initialized');

    const endpoint = new RegistrarEndpoint(w.infrastructure);
    const pinned = await w.infrastructure.pinned('registrar');
    const registrar = { id: pinned.id, key: pinned.publicKey };
    const hellos = [
      ['usable CSE association', meter1, 'meter-1-svc', meter1.cseId!, 'sa-cse'],
      ['usable AE association', meter1, 'meter-1-svc', APPS.usable.id, 'sa-ae'],
      ['unknown association', meter1, 'meter-1-svc', meter1.cseId!, 'sa-nowhere'],
      ['association not waiting', meter1, 'meter-1-svc', meter1.cseId!, 'sa-established'],
      ['wrong registree', meter1, 'meter-1-svc', '/meter-9-cse', 'sa-cse'],
      ['subscription ended', meter2, 'meter-2-svc', meter2.cseId!, 'sa-sub-ended'],
      ['node revoked', meter3, 'meter-3-svc', meter3.cseId!, 'sa-node-revoked'],
      ['App-ID revoked', meter1, 'meter-1-svc', APPS.revoked.id, 'sa-app-revoked'],
      ['fingerprint mismatch', meter1, 'meter-1-other', meter1.cseId!, 'sa-cse'],
      ['credential revoked', meter4, 'meter-4-svc', meter4.cseId!, 'sa-cred-revoked'],
    ] as const;
    const log: string[] = [];
    watchCalls(w.credence.store, ['readStream', 'readAll'], 'store', log, streamKind);
    watchCalls(w.credence.keyRegistry!, ['live'], 'registry', log, streamKind);

    // When each is named in a hello, twice: the second finds the lookups' memo warm
    const reads: Record<string, string[][]> = {};
    const told: Record<string, (string | undefined)[]> = {};
    const found: Record<string, [string, string]> = {};
    const summary = (c: { revoked?: boolean } | undefined) => (c === undefined ? 'none' : c.revoked === true ? 'revoked' : 'usable');
    for (let round = 0; round < 2; round++) {
      for (const [label, device, credentialId, registreeId, associationId] of hellos) {
        const handshake = await device.registree(credentialId, registreeId, registrar).start({ lifetimeSeconds: 600, associationId });
        const concealed: CredenceError[] = [];
        log.length = 0;
        await endpoint.acceptHello(associationId, handshake.hello, undefined, (refusal) => concealed.push(refusal));
        (reads[label] ??= []).push([...log]);
        told[label] = concealed.map((r) => ((r.cause as CredenceError | undefined)?.problem as { reason?: string } | undefined)?.reason);
        const { fingerprint } = handshake.hello.credential;
        found[label] = [
          summary(await w.infrastructure.credentialOfAssociation(associationId, registreeId, fingerprint)),
          summary(await w.infrastructure.credentialConfiguredFor(associationId, registreeId, fingerprint)),
        ];
        await handshake.abort();
      }
    }

    // Then each made the usable CSE association's reads, in the same order: the association, its node, subscription,
    // App-ID and the App-ID's credential, its credential and key, then the association and credential it was configured with
    const lookup = ['association', 'node', 'subscription', 'application', 'credential', 'credential'].map((kind) => `store.readStream:${kind}`);
    const configured = ['store.readStream:association', 'store.readStream:credential', 'registry.live:credential'];
    expect(reads['usable CSE association']![0]).toEqual([...lookup, 'registry.live:credential', ...configured]);
    for (const [label] of hellos) expect(reads[label], label).toEqual(reads['usable CSE association']);
    // and each is answered as before: a real run for the usable ones, a decoy for the others, its reason logged
    expect(told).toEqual({
      'usable CSE association': [],
      'usable AE association': [],
      'unknown association': ['unknown_credential'],
      'association not waiting': ['unknown_credential'],
      'wrong registree': ['unknown_credential'],
      'subscription ended': ['unknown_credential'],
      'node revoked': ['unknown_credential'],
      'App-ID revoked': ['unknown_credential'],
      'fingerprint mismatch': ['unknown_credential'],
      'credential revoked': ['credential_revoked'],
    });
    // what each lookup finds: [the association's credential for a handshake, the one it was configured with]
    expect(found).toEqual({
      'usable CSE association': ['usable', 'usable'],
      'usable AE association': ['usable', 'usable'],
      'unknown association': ['none', 'none'],
      'association not waiting': ['none', 'usable'],
      'wrong registree': ['none', 'none'],
      'subscription ended': ['none', 'usable'],
      'node revoked': ['none', 'usable'],
      'App-ID revoked': ['none', 'usable'],
      'fingerprint mismatch': ['none', 'none'],
      'credential revoked': ['revoked', 'revoked'],
    });
  });
});
