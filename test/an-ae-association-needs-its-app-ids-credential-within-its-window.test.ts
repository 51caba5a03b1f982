import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { claimingStore } from './support/fact-claims.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Seed 003 11.2.2, found in adversarial review 26: an App-ID's authorisation ends with its credential, yet an AE
 * association was configured (and established) under an App-ID whose credential had passed its notAfter: the rule
 * looked at the App-ID's state only, which changes when the expiry scheduler records CredentialExpired and the cascade
 * ends the enrolment (never, if the scheduler is not running). The association machine now reads the credential the
 * App-ID is enrolled with, a fact named by the App-ID (machines/facts.ts), and requires it to stand at the command's
 * instant (rule applicationCredentialStands), at configuration and again at establishment; replay reads the same fact.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const APP = 'Rbilling';
const appCredential = (credentialId: string, notAfter: string) =>
  cmd.issueCredential(credentialId, APP, notAfter, { purpose: 'application', owner: { kind: 'app', id: APP } });
const configureData = (associationId: string) => ({
  associationId, nodeId: 'meter-1', credentialId: 'ae-cred', registree: { kind: 'ae', id: 'Cbill1', appId: APP }, registrarCseId: '/in-cse',
});
const configure = (associationId: string) => command('configureAssociation', configureData(associationId), { actor: operator });

/** meter-1 enrolled; the App-ID enrolled at T0 with app-cred-1 (valid to at(10)); Cbill1's own credential provisioned (to at(200)). */
const open = async () => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
  await c.engine.execute(command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }));
  await c.engine.execute(appCredential('app-cred-1', at(10)));
  await c.engine.execute(command('enrolApplication', { appId: APP, credentialId: 'app-cred-1' }, { actor: operator }));
  await c.engine.execute(cmd.issueCredential('ae-cred', 'meter-1', at(200), { owner: { kind: 'ae', id: 'Cbill1', appId: APP } }));
  await c.engine.execute(cmd.provisionCredential('ae-cred'));
  await c.settle();
  return { c, clock };
};

describe("an AE association needs its App-ID's credential inside its validity window (seed 003 11.2.2)", () => {
  it('refuses to configure one at the App-ID credential\'s notAfter, before anything marked it expired, writing nothing', async () => {
    const { c, clock } = await open();
    clock.set(at(10));
    expect((await c.engine.entity('application', APP)).snapshot.value).toBe('enrolled');
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(configure('sa-ae')));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'absent', attempted: 'AssociationConfigured', rule: 'applicationCredentialStands' });
    expect(await footprint(c.store)).toEqual(before);
  });

  it('refuses to establish one configured before then, writing nothing', async () => {
    const { c, clock } = await open();
    await c.engine.execute(configure('sa-ae'));
    clock.set(at(10));
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(cmd.establishAssociation('sa-ae', at(20))));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'AssociationEstablished', rule: 'applicationCredentialStands' });
    expect(await footprint(c.store)).toEqual(before);
  });

  it('takes one while the credential stands', async () => {
    const { c, clock } = await open();
    clock.set(at(9));
    await c.engine.execute(configure('sa-ae'));
    await c.engine.execute(cmd.establishAssociation('sa-ae', at(20)));
    await c.settle();
    expect((await c.engine.entity('association', 'sa-ae')).snapshot.value).toBe('associated');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('is judged by replay against the App-ID\'s credential as the decision claimed it (EventStoreDB\'s way)', async () => {
    const store = openSqliteStore({ memory: true });
    try {
      const clock = new FakeClock(T0);
      const plain = createEngine({ store, clock });
      for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await plain.execute(x);
      await plain.execute(command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }));
      await plain.execute(appCredential('app-cred-1', at(10)));
      await plain.execute(command('enrolApplication', { appId: APP, credentialId: 'app-cred-1' }, { actor: operator }));
      await plain.execute(cmd.issueCredential('ae-cred', 'meter-1', at(200), { owner: { kind: 'ae', id: 'Cbill1', appId: APP } }));
      await plain.execute(cmd.provisionCredential('ae-cred'));
      // The App-ID's credential is revoked between the configuration's claims and its append: legal, as decided.
      const claiming = claimingStore(store, async () => void (await plain.execute(cmd.revokeCredential('app-cred-1'))));
      await createEngine({ store: claiming, clock }).execute(configure('sa-ae'));
      const claims = (await store.readStream('credential-app-cred-1')).filter((e) => e.type === FACT_CLAIM_TYPE);
      expect(claims.map((e) => e.data)).toEqual([expect.objectContaining({ claimant: 'association-sa-ae' })]);
      expect((await replayAll(store)).findings).toEqual([]);
      expect((await replayEntity(store, 'association-sa-ae')).verdict).toEqual({ ok: true });
    } finally {
      await store.close();
    }
  });

  it('replay flags a stored configuration at the App-ID credential\'s notAfter', async () => {
    const { c } = await open();
    const forged = await forge(c.store, 'association-sa-ae', 'AssociationConfigured', configureData('sa-ae'), at(10));
    const reason = expect.stringMatching(
      /^AssociationConfigured refused in state absent by rule applicationCredentialStands: association sa-ae .*; credential app-cred-1 is valid from .* to 2026-01-11T00:00:00\.000Z, and this is 2026-01-11T00:00:00\.000Z$/,
    );
    expect((await replayAll(c.store)).findings.map((f) => [f.position, f.reason])).toEqual([[forged.position, reason]]);
    expect((await replayEntity(c.store, 'association-sa-ae')).verdict).toEqual({
      ok: false, findings: [expect.objectContaining({ position: forged.position, reason: expect.stringContaining('applicationCredentialStands') })],
    });
  });
});
