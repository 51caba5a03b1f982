import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore, RecordedEvent } from '../domain/ports/index.ts';
import { cascadeProcessManager } from '../projections/cascade/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { cascadeCatchUpKilledAfterAppendingTo } from './support/cascade-killed-catch-up.ts';
import { entityState as state } from './support/credential-holders.ts';
import { at, cmd, footprint, operator, T0 } from './support/fleet.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { certifiedCredentialData, testCa, testLeaf } from './support/pki-test-ca.ts';
import { storedRecords } from './support/stored-records.ts';

/*
 * Review 287 (issue 13: a CA per M2M Service Subscription, its id the M2M-Sub-ID). meter-1, enrolled under sub-1, holds
 * svc-sub1, certified by CA sub-1, with association sa-1 established on it. Enrolled under sub-2 (same CSE-ID, RS-17),
 * svc-sub1 stayed live, even after sub-1 was terminated: sub-1's tenant trusts CA sub-1 (its OCSP said `good`) and
 * kept authenticating a device that is now sub-2's. The cascade now revokes, as affiliationChanged, each live
 * credential of the node certified by the CA of the subscription it left (its recorded issuingCa); one certified by
 * the shared CA `default`, or with no certificate, stays, and a re-enrolment under the same subscription revokes nothing.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const NOW = Date.parse(T0) + 3_600_000;
const DAY = 86_400_000;
/** An hour into the certificates' validity. */
const CLOCK = new Date(NOW + 3_600_000).toISOString();

/** issueCredential of meter-1's credential certified by CA `caId` (a test CA of that id). */
const certified = async (credentialId: string, caId: string) => {
  const leaf = await testLeaf(await testCa(caId, 'p256', NOW), { baseUrl: PKI_TEST_URL, name: credentialId, now: NOW, validityMs: 30 * DAY });
  return command('issueCredential', certifiedCredentialData(credentialId, leaf.der, caId), { actor: operator });
};

/**
 * sub-1 and sub-2; meter-1 enrolled under sub-1 with svc-sub1 (CA sub-1), svc-default (CA default) and cred-plain (no
 * certificate) provisioned, and sa-1 established on svc-sub1.
 */
const fleet = async (engine: Pick<Engine, 'execute'>): Promise<void> => {
  for (const c of [
    cmd.createSubscription('sub-1'),
    cmd.createSubscription('sub-2'),
    cmd.registerNode(),
    cmd.enrolNode('meter-1', 'sub-1'),
    await certified('svc-sub1', 'sub-1'),
    cmd.provisionCredential('svc-sub1'),
    await certified('svc-default', 'default'),
    cmd.provisionCredential('svc-default'),
    cmd.issueCredential('cred-plain', 'meter-1', at(90)),
    cmd.provisionCredential('cred-plain'),
    cmd.configureAssociation('sa-1', 'svc-sub1'),
    cmd.establishAssociation('sa-1'),
  ]) {
    await engine.execute(c);
  }
};

const opened = async (): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(CLOCK) }));
  await fleet(c.engine);
  await c.settle();
  return c;
};

const all = storedRecords;

const revocationsOf = async (store: EventStore, credentialId: string) =>
  (await all(store))
    .filter((r) => r.streamId === `credential-${credentialId}` && r.type === 'CredentialRevoked')
    .map((r) => ({ reason: r.data['reason'], actor: r.metadata['actor'], causationId: r.metadata['causationId'] }));

const enrolments = async (store: EventStore): Promise<RecordedEvent[]> =>
  (await all(store)).filter((r) => r.streamId === 'node-meter-1' && r.type === 'NodeEnrolled');

const system = { id: 'system:process-manager', role: 'system' };

const keptLive = async (engine: Pick<Engine, 'entity'>): Promise<void> => {
  expect(await state(engine, 'credential', 'svc-default')).toEqual(['svc-default', 'enrolled', undefined]);
  expect(await state(engine, 'credential', 'cred-plain')).toEqual(['cred-plain', 'enrolled', undefined]);
};

describe('a node enrolled under another subscription loses the credentials certified by the CA of the one it left (review 287)', () => {
  it('svc-sub1 is revoked affiliationChanged once, by the cascade caused by the move, and sa-1 with it; the others stay', async () => {
    const c = await opened();
    await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-sub1')).toEqual(['svc-sub1', 'revoked', 'affiliationChanged']);
    expect(await state(c.engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'affiliationChanged']);
    await keptLive(c.engine);
    const move = (await enrolments(c.store)).at(-1)!;
    expect(await revocationsOf(c.store, 'svc-sub1')).toEqual([{ reason: 'affiliationChanged', actor: system, causationId: move.id }]);
    // sub-1 terminated afterwards: nothing more of meter-1's ends (it is sub-2's now).
    await c.engine.execute(command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator }));
    await c.settle();
    await keptLive(c.engine);
    expect(await revocationsOf(c.store, 'svc-sub1')).toHaveLength(1);
    // Settled again, and rebuilt from position 0: found done, nothing written.
    const before = await footprint(c.store);
    await c.settle();
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(c.store)).toEqual(before);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('enrolled again under the same subscription, it keeps every credential', async () => {
    const c = await opened();
    // The same subscription and CSE-ID would change nothing, and is refused (review 295): a renumbering is the
    // re-enrolment under the same subscription, which ends sa-1 (its CSE-ID left) but no credential CA sub-1 certified.
    await c.engine.execute(command('enrolNode', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/cse-meter-1-renumbered' }, { actor: operator }));
    await c.settle();
    expect(await enrolments(c.store)).toHaveLength(2);
    expect(await state(c.engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'affiliationChanged']);
    expect(await state(c.engine, 'credential', 'svc-sub1')).toEqual(['svc-sub1', 'enrolled', undefined]);
    await keptLive(c.engine);
  });

  it('a cascade that first meets the log revokes what such a move left live; a rebuild after writes nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(CLOCK);
    // Recorded with no cascade running: what a cascade before this version left.
    const engine = createEngine({ store, clock });
    await fleet(engine);
    await engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-sub1')).toEqual(['svc-sub1', 'revoked', 'affiliationChanged']);
    expect(await state(c.engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'affiliationChanged']);
    await keptLive(c.engine);
    const before = await footprint(store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(store)).toEqual(before);
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('a credential certified by the CA it left, recorded after the move (a provisioning authenticated before it), is revoked on arrival once; one of its new CA stays', async () => {
    const c = await opened();
    await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
    await c.settle();
    for (const x of [await certified('svc-late', 'sub-1'), cmd.provisionCredential('svc-late'), await certified('svc-sub2', 'sub-2'), cmd.provisionCredential('svc-sub2')]) {
      await c.engine.execute(x);
    }
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-late')).toEqual(['svc-late', 'revoked', 'affiliationChanged']);
    expect(await state(c.engine, 'credential', 'svc-sub2')).toEqual(['svc-sub2', 'enrolled', undefined]);
    await keptLive(c.engine);
    const issued = (await all(c.store)).find((r) => r.streamId === 'credential-svc-late' && r.type === 'CredentialIssued')!;
    expect(await revocationsOf(c.store, 'svc-late')).toEqual([{ reason: 'affiliationChanged', actor: system, causationId: issued.id }]);
    // Rebuilt from position 0: found done, nothing written.
    const before = await footprint(c.store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(c.store)).toEqual(before);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('a credential certified by a CA named for no subscription (tenant-ca) of a node under sub-1 stays live, never having moved or after', async () => {
    const c = await opened();
    for (const x of [await certified('svc-tenant', 'tenant-ca'), cmd.provisionCredential('svc-tenant')]) await c.engine.execute(x);
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-tenant')).toEqual(['svc-tenant', 'enrolled', undefined]);
    // Moved to sub-2 and one more recorded after: neither CA is one of a subscription it left.
    await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
    for (const x of [await certified('svc-tenant-late', 'tenant-ca'), cmd.provisionCredential('svc-tenant-late')]) await c.engine.execute(x);
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-tenant')).toEqual(['svc-tenant', 'enrolled', undefined]);
    expect(await state(c.engine, 'credential', 'svc-tenant-late')).toEqual(['svc-tenant-late', 'enrolled', undefined]);
    expect(await revocationsOf(c.store, 'svc-tenant')).toEqual([]);
    expect(await revocationsOf(c.store, 'svc-tenant-late')).toEqual([]);
  });

  it('a catch-up killed just after its revocation of svc-sub1 was stored, before its checkpoint, does not revoke it twice when resumed', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(CLOCK);
    const engine = createEngine({ store, clock });
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    await fleet(engine);
    await new ProjectionRunner({ db, store, projections: [cascadeProcessManager(engine)] }).catchUp();
    await engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
    await cascadeCatchUpKilledAfterAppendingTo('credential-svc-sub1', { db, store, clock, engine });
    const move = (await enrolments(store)).at(-1)!;
    expect(await revocationsOf(store, 'svc-sub1')).toEqual([{ reason: 'affiliationChanged', actor: system, causationId: move.id }]);
    expect(await state(engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'affiliationChanged']);
    db.close();
  });
});
