import { randomUUID } from 'node:crypto';
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
import { commandRecordedByAnEarlierVersion } from './support/recorded-by-an-earlier-version.ts';
import { storedRecords } from './support/stored-records.ts';

/*
 * Review 288 (seed 003 11.2.1: remote provisioning is mutually authenticated on the node's pre-existing bootstrap
 * credential). meter-1's service credential svc-1 was remotely provisioned on its factory credential boot-1, and
 * association sa-1 established on svc-1. Revoking boot-1 for keyCompromise took its own associations and App-ID
 * enrolments only: svc-1 and sa-1 stayed live, though whoever held the factory key could have run that provisioning
 * (impersonated the device). A bootstrap credential revoked for keyCompromise now revokes, as keyCompromise, every
 * credential remotely provisioned on it, which then ends their associations. Retired for any other reason (superseded,
 * cessationOfOperation: its work done once the node was provisioned) it gave nothing away, and they stay.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const remotely = (credentialId: string, bootstrapCredentialId = 'boot-1') =>
  command('provisionCredential', { credentialId, method: 'remote-provisioning', bootstrapCredentialId }, { actor: operator });

/** meter-1 registered with boot-1 and enrolled; svc-1 remotely provisioned on boot-1, sa-1 established on svc-1. */
const fleet = async (engine: Pick<Engine, 'execute'>): Promise<void> => {
  await engine.execute(cmd.createSubscription());
  await engine.execute(command('registerNode', {
    nodeId: 'meter-1', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] }, bootstrapCredentialId: 'boot-1',
  }, { actor: operator }));
  await engine.execute(cmd.issueCredential('boot-1', 'meter-1', at(300), { purpose: 'bootstrap' }));
  await engine.execute(cmd.provisionCredential('boot-1'));
  await engine.execute(cmd.enrolNode());
  await engine.execute(cmd.issueCredential('svc-1', 'meter-1', at(90)));
  await engine.execute(remotely('svc-1'));
  await engine.execute(cmd.configureAssociation('sa-1', 'svc-1'));
  await engine.execute(cmd.establishAssociation('sa-1'));
};

const opened = async (): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  await fleet(c.engine);
  await c.settle();
  return c;
};

/** meter-1 registered with boot-1 and enrolled; svc-1 issued, not provisioned yet. Settled. */
const svc1IssuedNotProvisioned = async (): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  await c.engine.execute(cmd.createSubscription());
  await c.engine.execute(command('registerNode', {
    nodeId: 'meter-1', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] }, bootstrapCredentialId: 'boot-1',
  }, { actor: operator }));
  await c.engine.execute(cmd.issueCredential('boot-1', 'meter-1', at(300), { purpose: 'bootstrap' }));
  await c.engine.execute(cmd.provisionCredential('boot-1'));
  await c.engine.execute(cmd.enrolNode());
  await c.engine.execute(cmd.issueCredential('svc-1', 'meter-1', at(90)));
  await c.settle();
  return c;
};

/** svc-1's remote provisioning on boot-1, decided by an earlier version and stored now (a raced import). */
const svc1ProvisionedOnBoot1ByAnEarlierVersion = (store: EventStore) =>
  commandRecordedByAnEarlierVersion(store, {
    type: 'provisionCredential',
    data: { credentialId: 'svc-1', method: 'remote-provisioning', bootstrapCredentialId: 'boot-1' },
    metadata: { actor: operator, commandId: randomUUID() },
  });

const all = storedRecords;

/** svc-1's revocations as stored: reason, who sent them, and the event that caused each. */
const revocationsOfSvc1 = async (store: EventStore) =>
  (await all(store))
    .filter((r) => r.streamId === 'credential-svc-1' && r.type === 'CredentialRevoked')
    .map((r) => ({ reason: r.data['reason'], actor: r.metadata['actor'], causationId: r.metadata['causationId'] }));

const revocationOfBoot1 = async (store: EventStore): Promise<RecordedEvent> => {
  const revocation = (await all(store)).find((r) => r.streamId === 'credential-boot-1' && r.type === 'CredentialRevoked');
  if (revocation === undefined) throw new Error('boot-1 was not revoked');
  return revocation;
};

const system = { id: 'system:process-manager', role: 'system' };

describe('a bootstrap credential revoked for keyCompromise revokes the credentials remotely provisioned on it (review 288)', () => {
  it('svc-1 is revoked keyCompromise once, by the cascade caused by boot-1\'s revocation, and sa-1 with it', async () => {
    const c = await opened();
    await c.engine.execute(cmd.revokeCredential('boot-1', 'keyCompromise'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-1')).toEqual(['svc-1', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'keyCompromise']);
    const cause = await revocationOfBoot1(c.store);
    expect(await revocationsOfSvc1(c.store)).toEqual([{ reason: 'keyCompromise', actor: system, causationId: cause.id }]);
    // Settled again, and rebuilt from position 0: found done, nothing written.
    const before = await footprint(c.store);
    await c.settle();
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(c.store)).toEqual(before);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it.each(['superseded', 'cessationOfOperation'])('revoked %s (retired after provisioning), it leaves svc-1 and sa-1 in service', async (reason) => {
    const c = await opened();
    await c.engine.execute(cmd.revokeCredential('boot-1', reason));
    await c.settle();
    expect(await state(c.engine, 'credential', 'boot-1')).toEqual(['boot-1', 'revoked', reason]);
    expect(await state(c.engine, 'credential', 'svc-1')).toEqual(['svc-1', 'associated', undefined]);
    expect(await state(c.engine, 'association', 'sa-1')).toEqual(['sa-1', 'associated', undefined]);
    expect(await revocationsOfSvc1(c.store)).toEqual([]);
  });

  it('a retired bootstrap whose revocation is raised to keyCompromise later takes svc-1 and sa-1 then', async () => {
    const c = await opened();
    await c.engine.execute(cmd.revokeCredential('boot-1', 'superseded'));
    await c.settle();
    await c.engine.execute(cmd.revokeCredential('boot-1', 'keyCompromise'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-1')).toEqual(['svc-1', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'keyCompromise']);
  });

  it('a pre-provisioned credential that names no bootstrap stays', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await fleet(c.engine);
    await c.engine.execute(cmd.issueCredential('svc-2', 'meter-1', at(90)));
    await c.engine.execute(cmd.provisionCredential('svc-2'));
    await c.settle();
    await c.engine.execute(cmd.revokeCredential('boot-1', 'keyCompromise'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-1')).toEqual(['svc-1', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'credential', 'svc-2')).toEqual(['svc-2', 'enrolled', undefined]);
  });

  it('a cascade that first meets the log revokes what such a revocation left live; a rebuild after writes nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    // Recorded with no cascade running: what a cascade before this version left.
    const engine = createEngine({ store, clock });
    await fleet(engine);
    await engine.execute(cmd.revokeCredential('boot-1', 'keyCompromise'));
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-1')).toEqual(['svc-1', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'keyCompromise']);
    const before = await footprint(store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(store)).toEqual(before);
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('a catch-up killed just after its revocation of svc-1 was stored, before its checkpoint, does not revoke it twice when resumed', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    await fleet(engine);
    await new ProjectionRunner({ db, store, projections: [cascadeProcessManager(engine)] }).catchUp();
    await engine.execute(cmd.revokeCredential('boot-1', 'keyCompromise'));
    // The process dies once svc-1's revocation is appended: the batch's read model and checkpoint are never committed.
    await cascadeCatchUpKilledAfterAppendingTo('credential-svc-1', { db, store, clock, engine });
    const cause = await revocationOfBoot1(store);
    expect(await revocationsOfSvc1(store)).toEqual([{ reason: 'keyCompromise', actor: system, causationId: cause.id }]);
    expect(await state(engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'keyCompromise']);
    db.close();
  });

  it('a remote provisioning on boot-1 stored after boot-1\'s revocation for keyCompromise (a raced import) is revoked on arrival', async () => {
    const c = await svc1IssuedNotProvisioned();
    await c.engine.execute(cmd.revokeCredential('boot-1', 'keyCompromise'));
    // Decided before the revocation, stored after it (before the cascade got there).
    await svc1ProvisionedOnBoot1ByAnEarlierVersion(c.store);
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-1')).toEqual(['svc-1', 'revoked', 'keyCompromise']);
  });

  it('a remote provisioning stored after boot-1\'s revocation was raised from superseded to keyCompromise (a raced import) is revoked on arrival', async () => {
    const c = await svc1IssuedNotProvisioned();
    // Retired, then found compromised: the first reason is superseded, the raise keyCompromise.
    await c.engine.execute(cmd.revokeCredential('boot-1', 'superseded'));
    await c.settle();
    await c.engine.execute(cmd.revokeCredential('boot-1', 'keyCompromise'));
    await c.settle();
    // Decided before the revocations, stored after them.
    await svc1ProvisionedOnBoot1ByAnEarlierVersion(c.store);
    await c.settle();
    expect(await state(c.engine, 'credential', 'svc-1')).toEqual(['svc-1', 'revoked', 'keyCompromise']);
  });
});
