import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import type { Engine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { ExpectedRevision, type EventStore, type JsonObject } from '../domain/ports/event-store.ts';
import { PROCESS_MANAGER_ACTOR } from '../projections/cascade/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { at, cmd, establishedFleet, footprint, operator, rejection, rotateOne, T0 } from './support/fleet.ts';

/*
 * Review 234: the bookkeeping events the cascade records on an association's credential, node and App-ID
 * (`CredentialAssociated`, `NodeAssociated`, `ApplicationInstanceAssociated`) were accepted for any association id not
 * listed yet: a forged one, for an association that does not exist, or is another node's, left the entity
 * `associated` for good, and replay found nothing. Each now reads the association as a fact: it exists, was
 * established (it may have ended since: the cascade records after the fact), and names this entity (machines v8;
 * docs/service.md, Upgrading). Its release names an ended association of this entity. The engine's own flows
 * (establish, revoke, expire, a rotation's handover, an App-ID's instance) replay clean as before.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const asCascade = (engine: Pick<Engine, 'executeAsSystem'>, type: string, data: Record<string, unknown>) =>
  engine.executeAsSystem({ type, data, metadata: { actor: PROCESS_MANAGER_ACTOR, commandId: randomUUID() } });

const registerBilling = command('registerApplication', { appId: 'Rbilling', name: 'billing', provider: 'City Utilities' }, { actor: operator });
const appCred = cmd.issueCredential('app-cred', 'Rbilling', at(300), { purpose: 'application', owner: { kind: 'app', id: 'Rbilling' } });
const enrolBilling = command('enrolApplication', { appId: 'Rbilling', credentialId: 'app-cred' }, { actor: operator });
/** AE Cbill of Rbilling on meter-1, through association `sa`, on the App-ID's credential. */
const aeAssociation = (sa: string) =>
  command('configureAssociation', { associationId: sa, nodeId: 'meter-1', credentialId: 'app-cred', registree: { kind: 'ae', id: 'Cbill', appId: 'Rbilling' }, registrarCseId: '/in-cse' }, { actor: operator });

/** meter-1 and meter-2, each with an established association (sa-1, sa-2) on its credential; sa-3 on cred-1 configured only; Rbilling enrolled. */
const givenFleet = async () => {
  const f = await establishedFleet(2);
  for (const x of [cmd.configureAssociation('sa-3', 'cred-1'), registerBilling, appCred, cmd.provisionCredential('app-cred'), enrolBilling]) await f.engine.execute(x);
  return f;
};

const FORGED: [name: string, type: string, data: Record<string, unknown>, rule: string, found: string][] = [
  ['a node\'s, for an association that does not exist', 'recordNodeAssociation', { nodeId: 'meter-1', associationId: 'ghost' }, 'associationNamesThisNode', 'association ghost is not recorded'],
  ['a node\'s, for another node\'s association', 'recordNodeAssociation', { nodeId: 'meter-1', associationId: 'sa-2' }, 'associationNamesThisNode', 'association sa-2 names node meter-2'],
  ['a node\'s, for an association never established', 'recordNodeAssociation', { nodeId: 'meter-1', associationId: 'sa-3' }, 'associationNamesThisNode', 'association sa-3 is initialized, never established'],
  ['a credential\'s, for an association that does not exist', 'recordCredentialAssociation', { credentialId: 'cred-1', associationId: 'ghost' }, 'associationNamesThisCredential', 'association ghost is not recorded'],
  ['a credential\'s, for another credential\'s association', 'recordCredentialAssociation', { credentialId: 'cred-1', associationId: 'sa-2' }, 'associationNamesThisCredential', 'association sa-2 names credential cred-2'],
  ['an App-ID\'s, for an association that does not exist', 'recordApplicationInstance', { appId: 'Rbilling', aeId: 'Cbill', associationId: 'ghost' }, 'associationNamesThisInstance', 'association ghost is not recorded'],
  ['an App-ID\'s, for a CSE\'s association', 'recordApplicationInstance', { appId: 'Rbilling', aeId: 'Cbill', associationId: 'sa-1' }, 'associationNamesThisInstance', 'association sa-1 names CSE /cse-meter-1'],
];

describe('association bookkeeping names an established association of this entity (review 234)', () => {
  it.each(FORGED)('the engine refuses a forged record, %s, and writes nothing', async (_name, type, data, rule, found) => {
    const f = await givenFleet();
    const before = await footprint(f.store);
    const error = await rejection(asCascade(f.engine, type, data));
    expect(await footprint(f.store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', rule });
    expect(error.message).toContain(found);
  });

  it('the engine records the cascade\'s bookkeeping of an established association, and releases it once it has ended', async () => {
    const f = await givenFleet();
    await asCascade(f.engine, 'recordNodeAssociation', { nodeId: 'meter-1', associationId: 'sa-1' });
    await asCascade(f.engine, 'recordCredentialAssociation', { credentialId: 'cred-1', associationId: 'sa-1' });
    expect(String((await f.engine.entity('node', 'meter-1')).snapshot.value)).toBe('associated');
    // A release while the association stands is not the cascade's: refused.
    expect((await rejection(asCascade(f.engine, 'releaseNodeAssociation', { nodeId: 'meter-1', associationId: 'sa-1' }))).problem).toMatchObject({ rule: 'associationEnded' });
    await f.engine.execute(cmd.revokeAssociation('sa-1'));
    await asCascade(f.engine, 'releaseNodeAssociation', { nodeId: 'meter-1', associationId: 'sa-1' });
    await asCascade(f.engine, 'releaseCredentialAssociation', { credentialId: 'cred-1', associationId: 'sa-1' });
    expect(String((await f.engine.entity('node', 'meter-1')).snapshot.value)).toBe('enrolled');
    expect(String((await f.engine.entity('credential', 'cred-1')).snapshot.value)).toBe('enrolled');
    expect((await replayAll(f.store)).findings).toEqual([]);
  });

  it.each([
    ['node-meter-1', 'NodeAssociated', 'recordNodeAssociation', { nodeId: 'meter-1', associationId: 'ghost' }, 'associationNamesThisNode'],
    ['node-meter-1', 'NodeAssociated', 'recordNodeAssociation', { nodeId: 'meter-1', associationId: 'sa-2' }, 'associationNamesThisNode'],
    ['credential-cred-1', 'CredentialAssociated', 'recordCredentialAssociation', { credentialId: 'cred-1', associationId: 'sa-2' }, 'associationNamesThisCredential'],
    ['application-Rbilling', 'ApplicationInstanceAssociated', 'recordApplicationInstance', { appId: 'Rbilling', aeId: 'Cbill', associationId: 'ghost' }, 'associationNamesThisInstance'],
  ] as const)('replay flags a forged %s %s stored raw, by a rule since machines v8', async (streamId, type, commandType, data, rule) => {
    const f = await givenFleet();
    await plant(f.store, streamId, type, commandType, data);
    const { findings } = await replayAll(f.store);
    const finding = findings.find((x) => x.streamId === streamId && x.type === type);
    expect(finding, findings.map((x) => `${x.streamId} ${x.type}: ${x.reason}`).join('\n')).toBeDefined();
    expect(finding!.reason).toContain(`by rule ${rule}`);
    expect(finding!.reason).toContain('(rule since credence:machines:v8');
  });

  describe('the engine\'s own flows replay clean', () => {
    const open = (clock = new FakeClock(T0)) => (credence = openCredence({ location: { memory: true }, clock }));
    const stateOf = async (c: Credence, kind: 'node' | 'credential' | 'application' | 'association', id: string) => String((await c.engine.entity(kind, id)).snapshot.value);
    const establishMeter1 = async (c: Credence, expiresAt = at(30)) => {
      for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential(), cmd.configureAssociation(), cmd.establishAssociation('sa-1', expiresAt)]) {
        await c.engine.execute(x);
      }
    };

    it('establish, then revoke', async () => {
      const c = open();
      await establishMeter1(c);
      await c.settle();
      expect(await stateOf(c, 'node', 'meter-1')).toBe('associated');
      await c.engine.execute(cmd.revokeAssociation('sa-1'));
      await c.settle();
      expect(await stateOf(c, 'node', 'meter-1')).toBe('enrolled');
      expect(await stateOf(c, 'credential', 'cred-1')).toBe('enrolled');
      expect((await replayAll(c.store)).findings).toEqual([]);
    });

    it('establish and revoke before the cascade runs: it records the association after it ended, then releases it', async () => {
      const c = open();
      await establishMeter1(c);
      await c.engine.execute(cmd.revokeAssociation('sa-1'));
      await c.settle();
      expect(await stateOf(c, 'node', 'meter-1')).toBe('enrolled');
      const types = (await c.store.readStream('node-meter-1')).map((r) => r.type);
      expect(types).toEqual(expect.arrayContaining(['NodeAssociated', 'NodeAssociationReleased']));
      expect((await replayAll(c.store)).findings).toEqual([]);
    });

    it('establish, then expire', async () => {
      const clock = new FakeClock(T0);
      const c = open(clock);
      await establishMeter1(c, at(20));
      await c.settle();
      clock.set(at(20));
      await c.tick();
      await c.settle();
      expect(await stateOf(c, 'association', 'sa-1')).toBe('expired');
      expect(await stateOf(c, 'node', 'meter-1')).toBe('enrolled');
      expect((await replayAll(c.store)).findings).toEqual([]);
    });

    it('a credential rotated during an association hands over, and the association ends with it', async () => {
      const clock = new FakeClock(T0);
      const c = open(clock);
      await rotateOne(c.engine);
      await c.settle();
      clock.set(at(30));
      await c.tick();
      await c.settle();
      expect(await stateOf(c, 'credential', 'cred-1')).toBe('revoked');
      expect(await stateOf(c, 'association', 'sa-1')).toBe('revoked');
      expect(await stateOf(c, 'node', 'meter-1')).toBe('enrolled');
      expect((await replayAll(c.store)).findings).toEqual([]);
    });

    it('an App-ID\'s instance is recorded and released', async () => {
      const c = open();
      for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), registerBilling, appCred, cmd.provisionCredential('app-cred'), enrolBilling, aeAssociation('sa-ae'), cmd.establishAssociation('sa-ae')]) {
        await c.engine.execute(x);
      }
      await c.settle();
      expect(await stateOf(c, 'application', 'Rbilling')).toBe('associated');
      expect(await stateOf(c, 'node', 'meter-1')).toBe('associated');
      expect(await stateOf(c, 'credential', 'app-cred')).toBe('associated');
      await c.engine.execute(cmd.revokeAssociation('sa-ae'));
      await c.settle();
      expect(await stateOf(c, 'application', 'Rbilling')).toBe('enrolled');
      expect(await stateOf(c, 'node', 'meter-1')).toBe('enrolled');
      expect((await replayAll(c.store)).findings).toEqual([]);
    });

    it('a revoked node takes its associations with it (the releases follow the association\'s revocation)', async () => {
      const c = open();
      await establishMeter1(c);
      await c.settle();
      await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
      await c.settle();
      expect(await stateOf(c, 'association', 'sa-1')).toBe('revoked');
      expect((await replayAll(c.store)).findings).toEqual([]);
    });
  });
});

/** `type` appended to `streamId` as the cascade's command would store it, past the engine (a forged or pre-v8 record). */
const plant = async (store: EventStore, streamId: string, type: string, commandType: string, data: Record<string, unknown>) => {
  const commandId = randomUUID();
  const stream = await store.readStream(streamId);
  const metadata: JsonObject = {
    schemaVersion: 1, actor: PROCESS_MANAGER_ACTOR as unknown as JsonObject, commandId, commandType,
    correlationId: commandId, causationId: commandId, occurredAt: at(1),
  };
  await store.appendToStream(streamId, [{ id: eventIdFor(commandId, 0), type, data: data as JsonObject, metadata }], {
    expectedRevision: ExpectedRevision.after(stream.at(-1)?.revision),
  });
};
