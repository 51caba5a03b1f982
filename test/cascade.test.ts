import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import type { RecordedEvent } from '../domain/ports/event-store.ts';
import { at, cmd, footprint, operator, T0 } from './support/fleet.ts';

const all = async (store: { readAll(): AsyncIterable<RecordedEvent> }) => {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll()) out.push(e);
  return out;
};

/** A node with 3 service credentials and 10 associations spread over them. */
const buildNode = async (c: ReturnType<typeof openCredence>) => {
  const run = (x: unknown) => c.engine.execute(x);
  await run(cmd.createSubscription());
  await run(cmd.registerNode('gw'));
  await run(cmd.enrolNode('gw'));
  for (let k = 1; k <= 3; k++) {
    await run(cmd.issueCredential(`gw-c${k}`, 'gw'));
    await run(cmd.provisionCredential(`gw-c${k}`));
  }
  for (let i = 1; i <= 10; i++) {
    const credentialId = `gw-c${((i - 1) % 3) + 1}`;
    await run(cmd.configureAssociation(`gw-a${i}`, credentialId, 'gw'));
    await run(cmd.establishAssociation(`gw-a${i}`));
  }
  await c.settle();
};

/** meter-1 enrolled, and the App-ID Rbilling enrolled with its provisioned application credential app-cred. */
const enrolledApplication = async (c: ReturnType<typeof openCredence>) => {
  const run = (x: unknown) => c.engine.execute(x);
  await run(cmd.createSubscription());
  await run(cmd.registerNode());
  await run(cmd.enrolNode());
  await run(command('registerApplication', { appId: 'Rbilling', name: 'billing', provider: 'City Utilities' }, { actor: operator }));
  await run(cmd.issueCredential('app-cred', 'Rbilling', at(300), { purpose: 'application', owner: { kind: 'app', id: 'Rbilling' } }));
  await run(cmd.provisionCredential('app-cred'));
  await run(command('enrolApplication', { appId: 'Rbilling', credentialId: 'app-cred' }, { actor: operator }));
};

describe('revocation cascade (process manager)', () => {
  it('revoking a node revokes its 3 credentials and 10 associations, each caused by the revocation', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    await buildNode(c);
    expect((await c.engine.entity('node', 'gw')).snapshot.value).toBe('associated');
    const revocation = await c.engine.execute(command('revokeNode', { nodeId: 'gw', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();

    for (let k = 1; k <= 3; k++) expect((await c.engine.entity('credential', `gw-c${k}`)).snapshot.value).toBe('revoked');
    for (let i = 1; i <= 10; i++) expect((await c.engine.entity('association', `gw-a${i}`)).snapshot.value).toBe('revoked');

    // Every revocation after the node's traces back to it through causation ids, and shares its correlation.
    const events = await all(c.store);
    const byId = new Map(events.map((e) => [e.id, e]));
    const rootId = revocation.events[0]!.id;
    const caused = events.filter((e) => e.position > revocation.events[0]!.position && e.type.endsWith('Revoked'));
    expect(caused).toHaveLength(13);
    for (const e of caused) {
      let cursor: RecordedEvent | undefined = e;
      while (cursor !== undefined && cursor.id !== rootId) cursor = byId.get(String(cursor.metadata['causationId']));
      expect(cursor?.id, `${e.streamId} traces to the node revocation`).toBe(rootId);
      expect(e.metadata['correlationId']).toBe(revocation.events[0]!.metadata['correlationId']);
      expect(e.data['reason']).toBe('keyCompromise');
      expect(e.metadata['actor']).toEqual({ id: 'system:process-manager', role: 'system' });
    }
    await c.close();
  });

  it('running the process manager again from 0 changes nothing', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    await buildNode(c);
    await c.engine.execute(command('revokeNode', { nodeId: 'gw', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    const before = await footprint(c.store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });

  it('resumes after a restart without double effects', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const first = openCredence({ location: { memory: true }, clock, store });
    await buildNode(first);
    await first.engine.execute(cmd.revokeCredential('gw-c1'));
    // The process "crashes" before its projections ran: a new instance with fresh read models takes over.
    await first.runner.stop();
    const second = openCredence({ location: { memory: true }, clock, store });
    await second.settle();
    const revoked = (await all(store)).filter((e) => e.type === 'AssociationRevoked');
    expect(revoked.map((e) => e.streamId).sort()).toEqual(['association-gw-a1', 'association-gw-a4', 'association-gw-a7', 'association-gw-a10'].sort());
    const before = await footprint(store);
    const third = openCredence({ location: { memory: true }, clock, store });
    await third.settle();
    expect(await footprint(store)).toEqual(before);
  });

  it('revoking an App-ID revokes its instances\' associations (seed 003, 11.2.2)', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    const run = (x: unknown) => c.engine.execute(x);
    await enrolledApplication(c);
    for (const ae of ['Cbill1', 'Cbill2']) {
      await run(command('configureAssociation', {
        associationId: `sa-${ae}`, nodeId: 'meter-1', credentialId: 'app-cred',
        registree: { kind: 'ae', id: ae, appId: 'Rbilling' }, registrarCseId: '/in-cse',
      }, { actor: operator }));
      await run(cmd.establishAssociation(`sa-${ae}`));
    }
    await c.settle();
    expect((await c.engine.entity('application', 'Rbilling')).snapshot.value).toBe('associated');
    await run(command('revokeApplication', { appId: 'Rbilling', reason: 'privilegeWithdrawn' }, { actor: operator }));
    await c.settle();
    for (const ae of ['Cbill1', 'Cbill2']) {
      const a = await c.engine.entity('association', `sa-${ae}`);
      expect([a.snapshot.value, a.snapshot.context.revocationReason]).toEqual(['revoked', 'privilegeWithdrawn']);
    }
    expect((await c.engine.entity('credential', 'app-cred')).snapshot.value).toBe('revoked');
    await c.close();
  });
});

describe('expiry on schedule from the injected clock', () => {
  it('expires associations, credentials and subscriptions exactly at their boundaries', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    const run = (x: unknown) => c.engine.execute(x);
    await run(cmd.createSubscription('sub-1', at(100)));
    await run(cmd.registerNode());
    await run(cmd.enrolNode());
    await run(cmd.issueCredential('cred-1', 'meter-1', at(60)));
    await run(cmd.provisionCredential());
    await run(cmd.configureAssociation());
    await run(cmd.establishAssociation('sa-1', at(30)));
    await c.settle();
    const state = async (kind: 'association' | 'credential' | 'subscription' | 'node', id: string) =>
      String((await c.engine.entity(kind, id)).snapshot.value);

    clock.set(new Date(Date.parse(at(30)) - 1));
    expect(await c.tick()).toBe(0);
    expect(await state('association', 'sa-1')).toBe('associated');
    clock.set(at(30));
    expect(await c.tick()).toBe(1);
    expect(await state('association', 'sa-1')).toBe('expired');
    expect(await state('credential', 'cred-1')).toBe('enrolled');

    clock.set(at(60));
    await c.tick();
    expect(await state('credential', 'cred-1')).toBe('expired');

    clock.set(at(100));
    await c.tick();
    expect(await state('subscription', 'sub-1')).toBe('expired');
    expect(await state('node', 'meter-1')).toBe('expired');
    expect(c.scheduler.next()).toBeUndefined();
    await c.close();
  });
});

/** What a race leaves in the store: a child fact decided just before its parent ended, stored just after. */
const storeRaced = async (c: ReturnType<typeof openCredence>, input: ReturnType<typeof cmd.issueCredential> | ReturnType<typeof cmd.configureAssociation>) => {
  const { eventIdFor } = await import('../domain/event-ids.ts');
  const { COMMAND_CATALOG } = await import('../domain/commands/index.ts');
  const type = COMMAND_CATALOG[input.type as keyof typeof COMMAND_CATALOG].event;
  const stream = type === 'CredentialIssued' ? `credential-${(input.data as { credentialId: string }).credentialId}` : `association-${(input.data as { associationId: string }).associationId}`;
  const commandId = crypto.randomUUID();
  await c.store.appendToStream(stream, [{
    id: eventIdFor(commandId, 0), type, data: input.data as never,
    metadata: { schemaVersion: 1, actor: operator, commandId, commandType: input.type, correlationId: commandId, causationId: commandId, occurredAt: c.engine.clock.now().toISOString() },
  }], { expectedRevision: { kind: 'no_stream' } });
};

describe('the cascade closes the races its guards cannot see', () => {
  it('a credential stored just after its node was revoked is revoked with the node\'s reason', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    await buildNode(c);
    await c.engine.execute(command('revokeNode', { nodeId: 'gw', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    await storeRaced(c, cmd.issueCredential('gw-late', 'gw'));
    await c.settle();
    const late = await c.engine.entity('credential', 'gw-late');
    expect([late.snapshot.value, late.snapshot.context.revocationReason]).toEqual(['revoked', 'keyCompromise']);
    await c.close();
  });

  it('an association configured just after its node was revoked is revoked', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    await buildNode(c);
    await c.engine.execute(command('revokeNode', { nodeId: 'gw', reason: 'affiliationChanged' }, { actor: operator }));
    await c.settle();
    await storeRaced(c, cmd.configureAssociation('gw-late-sa', 'gw-c1', 'gw'));
    await c.settle();
    expect((await c.engine.entity('association', 'gw-late-sa')).snapshot.value).toBe('revoked');
    await c.close();
  });

  it('a node whose subscription ends is expired, and its credentials and associations end with it', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    await buildNode(c);
    await c.engine.execute(command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator }));
    await c.settle();
    expect((await c.engine.entity('node', 'gw')).snapshot.value).toBe('expired');
    for (let k = 1; k <= 3; k++) {
      const credential = await c.engine.entity('credential', `gw-c${k}`);
      expect([credential.snapshot.value, credential.snapshot.context.revocationReason]).toEqual(['revoked', 'cessationOfOperation']);
    }
    for (let i = 1; i <= 10; i++) expect((await c.engine.entity('association', `gw-a${i}`)).snapshot.value).toBe('revoked');
    await c.close();
  });
});

describe('a poisoned stream does not stop the cascade', () => {
  it('records a dead letter for a target whose history is broken and goes on with every other revocation', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    await buildNode(c);
    // gw-c2's stream is tampered with: an event its machine refuses (provisioned twice).
    const stream = await c.store.readStream('credential-gw-c2');
    await c.store.appendToStream('credential-gw-c2', [{
      id: crypto.randomUUID(), type: 'CredentialProvisioned', data: { credentialId: 'gw-c2', method: 'pre-provisioning' },
      metadata: { ...stream[1]!.metadata, commandId: crypto.randomUUID() },
    }], { expectedRevision: { kind: 'any' } });
    await c.engine.execute(command('revokeNode', { nodeId: 'gw', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    const { deadLetters } = await import('../projections/cascade/index.ts');
    expect(deadLetters(c.readModels).map((d) => [d.eventType, d.command, d.target])).toEqual(
      expect.arrayContaining([['NodeRevoked', 'revokeCredential', 'gw-c2']]),
    );
    for (const id of ['gw-c1', 'gw-c3']) expect((await c.engine.entity('credential', id)).snapshot.value).toBe('revoked');
    for (let i = 1; i <= 10; i++) expect((await c.engine.entity('association', `gw-a${i}`)).snapshot.value).toBe('revoked');
    // The cascade keeps moving past the poisoned event.
    expect(await c.runner.lag('cascade')).toMatchObject({ eventsBehind: 0 });
    await c.close();
  });
});

describe('rebuilding the cascade after its parents moved on', () => {
  it('does not stall when a re-check would now pick another reason than the one recorded', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    const run = (x: unknown) => c.engine.execute(x);
    await enrolledApplication(c);
    const configure = command('configureAssociation', {
      associationId: 'sa-ae', nodeId: 'meter-1', credentialId: 'app-cred', registree: { kind: 'ae', id: 'Cbill1', appId: 'Rbilling' }, registrarCseId: '/in-cse',
    }, { actor: operator });
    // The node is revoked, and an AE association configured a moment before is stored just after: the cascade's
    // re-check revokes it with the node's reason.
    await run(command('revokeNode', { nodeId: 'meter-1', reason: 'affiliationChanged' }, { actor: operator }));
    await c.settle();
    await storeRaced(c, configure as never);
    await c.settle();
    expect((await c.engine.entity('association', 'sa-ae')).snapshot.context.revocationReason).toBe('affiliationChanged');
    await run(cmd.revokeCredential('app-cred', 'keyCompromise'));
    await c.settle();
    const before = await footprint(c.store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });
});
