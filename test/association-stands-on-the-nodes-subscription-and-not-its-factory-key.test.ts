import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore, openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { eventsDbRangeSourceInDir } from '../adapters/driven/store/sqlite/events-db-reader.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { replayInWorkers } from '../adapters/replay-workers/pool.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { dataDirs, forge } from './replay.fixtures.ts';
import { at, cmd, fingerprint, footprint, issueCredentialData, operator, placeholderKey, rejection, T0 } from './support/fleet.ts';

/*
 * Found in review of the device service. Seed 003, 11.2.1: M2M service provisioning, and every association built on
 * it, assumes an M2M service subscription. The Registrar and the Enrolment Function checked the node's subscription,
 * the association machine did not: an operator's configureAssociation or establishAssociation, an in-process
 * procedure, or a handshake finishing after a termination passed until the cascade ended the node's enrolment, and
 * replay called it legal. Seed 003, 11.3.2: no association on the node's factory credential; the factory key issued
 * again under another id passed, the machine having compared ids only. The association now reads the node's
 * subscription and its bootstrap credential as facts named by the node (machines/facts.ts).
 */

const terminate = command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator });
const enrolledWithCredential = [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential()];

const world = async (store: EventStore = openSqliteStore({ memory: true })) => {
  const clock = new FakeClock(T0);
  const engine = createEngine({ store, clock });
  for (const c of enrolledWithCredential) await engine.execute(c);
  return { store, clock, engine };
};

describe('an association stands on the subscription its node is served under', () => {
  it('is not configured once the subscription is terminated, though the cascade has not ended the enrolment, and nothing is written', async () => {
    const { store, engine } = await world();
    await engine.execute(terminate);
    expect((await engine.entity('node', 'meter-1')).snapshot.value).toBe('enrolled');
    const before = await footprint(store);
    const error = await rejection(engine.execute(cmd.configureAssociation()));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'absent', attempted: 'AssociationConfigured', rule: 'subscriptionServes' });
    expect(await footprint(store)).toEqual(before);
  });

  it('is not established once the subscription is terminated after its configuration, and nothing is written', async () => {
    const { store, engine } = await world();
    await engine.execute(cmd.configureAssociation());
    await engine.execute(terminate);
    const before = await footprint(store);
    const error = await rejection(engine.execute(cmd.establishAssociation()));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'AssociationEstablished', rule: 'subscriptionServes' });
    expect(await footprint(store)).toEqual(before);
  });

  it('is not configured past the subscription\'s notAfter, before anything marked it expired', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    // An AE's association on its App-ID's credential (to at(90)): a node's service credential is no longer provisioned
    // past its subscription's end (endsWithinSubscription, review 197), and would refuse as unusable first at(21).
    const app = (type: 'registerApplication' | 'enrolApplication', data: Record<string, unknown>) => command(type, data, { actor: operator });
    for (const c of [
      cmd.createSubscription('sub-1', at(20)), cmd.registerNode(), cmd.enrolNode(), app('registerApplication', { appId: 'Rapp', name: 'billing', provider: 'City Utilities' }),
      cmd.issueCredential('app-cred', 'Rapp', at(90), { purpose: 'application', owner: { kind: 'app', id: 'Rapp' } }), cmd.provisionCredential('app-cred'),
      app('enrolApplication', { appId: 'Rapp', credentialId: 'app-cred' }),
    ]) await engine.execute(c);
    clock.set(new Date(at(21)));
    const before = await footprint(store);
    const configure = command('configureAssociation', {
      associationId: 'sa-1', nodeId: 'meter-1', credentialId: 'app-cred', registree: { kind: 'ae', id: 'Cbill', appId: 'Rapp' }, registrarCseId: '/in-cse',
    }, { actor: operator });
    expect((await rejection(engine.execute(configure))).problem).toMatchObject({ rule: 'subscriptionServes' });
    expect(await footprint(store)).toEqual(before);
  });

  it('a termination committed between the decision and its append fails the append, and the command decided again is refused', async () => {
    const inner = openSqliteStore({ memory: true });
    const { engine: setup } = await world(inner);
    let terminated = false;
    // The embedded store checks every fact the decision read inside the append's transaction: the subscription too.
    const racing: EventStore = Object.assign(Object.create(inner) as EventStore, {
      appendToStream: async (...args: Parameters<EventStore['appendToStream']>) => {
        if (args[0] === 'association-sa-1' && !terminated) {
          terminated = true;
          expect(args[2].facts?.map((f) => f.streamId).sort()).toEqual(['credential-cred-1', 'node-meter-1', 'subscription-sub-1']);
          await setup.execute(terminate);
        }
        return inner.appendToStream(...args);
      },
    });
    const engine = createEngine({ store: racing, clock: new FakeClock(T0) });
    expect((await rejection(engine.execute(cmd.configureAssociation()))).problem).toMatchObject({ rule: 'subscriptionServes' });
    expect(terminated).toBe(true);
    expect(await inner.readStream('association-sa-1')).toEqual([]);
  });
});

/**
 * meter-1 registered with the factory credential boot-1, enrolled; twin-1 the factory key issued again; svc-1 another
 * key. Since machines v3 the engine refuses twin-1's issue (keyIsNew, review 195): it is stored as v2 could store it,
 * and provisioned, so that the association's own rule (credentialNotBootstrap) is still what these tests hold to.
 */
const factoryKeyTwice = async (store: EventStore) => {
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  const factoryKey = placeholderKey('meter-1 factory key');
  await engine.execute(cmd.createSubscription());
  await engine.execute(command('registerNode', { nodeId: 'meter-1', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] }, bootstrapCredentialId: 'boot-1' }, { actor: operator }));
  await engine.execute(cmd.issueCredential('boot-1', 'meter-1', at(90), { purpose: 'bootstrap', ...factoryKey }));
  await engine.execute(cmd.provisionCredential('boot-1'));
  await engine.execute(cmd.enrolNode());
  await forge(store, 'credential-twin-1', 'CredentialIssued', { ...issueCredentialData('twin-1', 'meter-1', { notBefore: T0, notAfter: at(90) }), ...factoryKey }, T0);
  await engine.execute(cmd.provisionCredential('twin-1'));
  await engine.execute(cmd.issueCredential('svc-1', 'meter-1', at(90), placeholderKey('svc-1')));
  await engine.execute(cmd.provisionCredential('svc-1'));
  return { engine, factoryKey };
};

describe('an association is never on the node\'s factory key', () => {
  it('refuses a credential whose fingerprint is not its public key\'s, writing nothing (the fingerprint is what says two credentials are one key)', async () => {
    const store = openSqliteStore({ memory: true });
    const { engine, factoryKey } = await factoryKeyTwice(store);
    const before = await footprint(store);
    const error = await rejection(engine.execute(cmd.issueCredential('twin-2', 'meter-1', at(90), { publicKey: factoryKey.publicKey, fingerprint: fingerprint(9) })));
    expect(error.problem).toMatchObject({ code: 'validation', issues: [expect.objectContaining({ path: 'data.fingerprint', rule: 'custom', message: expect.stringContaining(factoryKey.fingerprint) })] });
    expect(await footprint(store)).toEqual(before);
  });

  it('refuses a public key that is not canonical base64url as a validation error naming it, never a crash, writing nothing', async () => {
    // Found in review: decoding the key to check its fingerprint threw, and the service answered 500.
    const store = openSqliteStore({ memory: true });
    const { engine } = await factoryKeyTwice(store);
    const before = await footprint(store);
    for (const [kind, publicKey] of [['ed25519', `${'A'.repeat(42)}B`], ['ed25519', `${'A'.repeat(42)}=`], ['p256', `B${'A'.repeat(85)}B`]] as const) {
      const error = await rejection(engine.execute(cmd.issueCredential('twin-3', 'meter-1', at(90), { kind, publicKey, fingerprint: fingerprint(9) })));
      expect(error.problem, publicKey).toMatchObject({ code: 'validation', issues: expect.arrayContaining([expect.objectContaining({ path: 'data.publicKey' })]) });
    }
    expect(await footprint(store)).toEqual(before);
  });

  it('refuses the factory key issued again under another id (the bootstrap credential\'s fingerprint), writing nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const { engine, factoryKey } = await factoryKeyTwice(store);
    const before = await footprint(store);
    // Issued again now, it is refused at its issue (keyIsNew); one stored before that is refused its association.
    expect((await rejection(engine.execute(cmd.issueCredential('twin-4', 'meter-1', at(90), factoryKey)))).problem).toMatchObject({ rule: 'keyIsNew' });
    expect((await rejection(engine.execute(cmd.configureAssociation('sa-1', 'twin-1')))).problem).toMatchObject({ rule: 'credentialNotBootstrap' });
    expect(await footprint(store)).toEqual(before);
    // A credential of another key is served.
    await engine.execute(cmd.configureAssociation('sa-2', 'svc-1'));
    await engine.execute(cmd.establishAssociation('sa-2'));
    expect((await engine.entity('association', 'sa-2')).snapshot.value).toBe('associated');
  });
});

describe('replay flags an association recorded after its node\'s subscription ended', () => {
  const dataDir = dataDirs('credence-association-subscription-');

  it('in one thread, in workers reading the file, and in the replay of the one entity', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    try {
      const { engine } = await world(store);
      await engine.execute(terminate);
      const forged = await forge(store, 'association-sa-1', 'AssociationConfigured', {
        associationId: 'sa-1', nodeId: 'meter-1', credentialId: 'cred-1', registree: { kind: 'cse', id: '/cse-meter-1' }, registrarCseId: '/in-cse',
      }, at(0), randomUUID());
      const finding = [forged.position, expect.stringMatching(
        /^AssociationConfigured refused in state absent by rule subscriptionServes: association sa-1 .*node meter-1's subscription .*; subscription sub-1 is revoked, /,
      )];
      const single = await replayAll(store);
      expect(single.findings.map((f) => [f.position, f.reason])).toEqual([finding]);
      expect((await replayInWorkers(store, { workers: 2, source: eventsDbRangeSourceInDir(dir) })).replay).toEqual(single);
      const entity = await replayEntity(store, 'association-sa-1');
      expect(entity.verdict).toEqual({ ok: false, findings: [expect.objectContaining({ position: forged.position, reason: expect.stringContaining('subscriptionServes') })] });
    } finally {
      await store.close();
    }
  }, 60_000);

  it('on the factory key issued again, though the factory credential\'s own stream holds a refused event, in every form alike', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    try {
      await factoryKeyTwice(store);
      // A refused event on the factory credential's stream: the replay of the one association took the credential as
      // absent, and the factory-key rule (which passes on an absent bootstrap) let the forgery through (found in review).
      const planted = await forge(store, 'credential-boot-1', 'CredentialExpired', { credentialId: 'boot-1' }, at(0));
      const forged = await forge(store, 'association-sa-1', 'AssociationConfigured', {
        associationId: 'sa-1', nodeId: 'meter-1', credentialId: 'twin-1', registree: { kind: 'cse', id: '/cse-meter-1' }, registrarCseId: '/in-cse',
      }, at(0));
      const single = await replayAll(store);
      // Since machines v3 twin-1's issue on the factory key is itself a finding, by a rule newer than it (keyIsNew,
      // review 195), and replay holds twin-1 unrecorded from there: its provisioning is refused, and the association
      // on it by credentialUsable (the association's factory-key rule is held to by the engine, above).
      expect(single.findings.map((f) => [f.position, f.reason])).toEqual([
        [expect.any(BigInt), expect.stringMatching(/^CredentialIssued refused in state absent by rule keyIsNew: .*; credential twin-1 carries the key of its node's bootstrap credential boot-1 \(rule since credence:machines:v3: /)],
        [expect.any(BigInt), 'CredentialProvisioned is not allowed in state absent (allowed: CredentialIssued)'],
        [planted.position, expect.stringMatching(
          /^CredentialExpired refused in state enrolled by rule notAfterReached: .*; credential boot-1 has notAfter 2026-04-01T00:00:00\.000Z, and this is 2026-01-01T00:00:00\.000Z$/,
        )],
        [forged.position, expect.stringMatching(/^AssociationConfigured refused in state absent by rule credentialUsable: association sa-1 .*; credential twin-1 is not recorded$/)],
      ]);
      expect((await replayInWorkers(store, { workers: 2, source: eventsDbRangeSourceInDir(dir) })).replay).toEqual(single);
      const entity = await replayEntity(store, 'association-sa-1');
      expect(entity.verdict).toEqual({ ok: false, findings: [expect.objectContaining({ position: forged.position, reason: expect.stringMatching(
        /^AssociationConfigured refused in state absent by rule credentialUsable: association sa-1 .*; credential twin-1 is not recorded; it depends on credential-twin-1 has a broken history at position \d+: CredentialIssued refused in state absent by rule keyIsNew: /,
      ) })] });
    } finally {
      await store.close();
    }
  }, 60_000);
});
