// Review 139: a cascade dead letter asks an operator to carry out its reaction by hand (docs/service.md, metrics), but
// once they had, the letter stayed, and so did `credence_cascade_dead_letters` and its alert: nothing ever deleted one
// short of a rebuild. Now a letter goes when its target stream ends later in the log (as the expiry scheduler's go
// with their entity), in the same transaction, so a fresh catch-up leaves what the live run leaves.
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command, type CommandType } from '../domain/commands/index.ts';
import { derivedCommandId, eventIdFor } from '../domain/event-ids.ts';
import { cascadeProcessManager, deadLetterCount, deadLetters } from '../projections/cascade/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { at, cmd, issueCredentialData, operator, T0 } from './support/fleet.ts';

/** `event` starting `stream` under `commandId` by an operator, straight through the store (no admission, no machine). */
const plant = async (c: Credence, stream: string, event: { type: string; data: object }, commandType: string, commandId: string) => {
  await c.store.appendToStream(stream, [{
    id: eventIdFor(commandId, 0), type: event.type, data: event.data as never,
    metadata: { schemaVersion: 1, actor: operator, commandId, commandType, correlationId: commandId, causationId: commandId, occurredAt: c.engine.clock.now().toISOString() },
  }], { expectedRevision: { kind: 'no_stream' }, commandId });
};

const op = (c: Credence, type: CommandType, data: Record<string, unknown>, commandId?: string) =>
  c.engine.execute(command(type, data, { actor: operator, ...(commandId !== undefined ? { commandId } : {}) }));

/** The letters a fresh read model holds once caught up on the log, one event per transaction and in batches. */
const afterFreshCatchUps = async (c: Credence): Promise<number[]> => {
  const counts: number[] = [];
  for (const batchSize of [1, 500]) {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    await new ProjectionRunner({ db, store: c.store, projections: [cascadeProcessManager(c.engine)], batchSize }).catchUp();
    counts.push(deadLetterCount(db));
    db.close();
  }
  return counts;
};

describe('a cascade dead letter, its reaction carried out by hand', () => {
  it("goes when the operator revokes the credential the node's revocation could not", async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    try {
      for (const step of [cmd.createSubscription(), cmd.registerNode('gw'), cmd.enrolNode('gw')]) await c.engine.execute(step);
      // gw-c1 is issued under the id the cascade will derive for revoking it when gw is revoked under `revokeId`.
      const revokeId = randomUUID();
      const cascadeId = derivedCommandId('cascade:revokeCredential:gw-c1', eventIdFor(revokeId, 0));
      const issued = { type: 'CredentialIssued', data: issueCredentialData('gw-c1', 'gw', { notBefore: T0, notAfter: at(90) }) };
      await plant(c, 'credential-gw-c1', issued, 'revokeCredential', cascadeId);
      await c.engine.execute(cmd.provisionCredential('gw-c1'));
      await c.settle();
      await op(c, 'revokeNode', { nodeId: 'gw', reason: 'keyCompromise' }, revokeId);
      await c.settle();
      expect(deadLetters(c.readModels)).toEqual([
        expect.objectContaining({ eventType: 'NodeRevoked', command: 'revokeCredential', target: 'gw-c1', stream: 'credential-gw-c1', occurredAt: T0 }),
      ]);
      expect(deadLetterCount(c.readModels)).toBe(1);
      expect(await afterFreshCatchUps(c)).toEqual([1, 1]);

      // What the letter asks: the credential revoked by hand. The letter goes with it, and stays gone on a rebuild.
      await c.engine.execute(cmd.revokeCredential('gw-c1', 'cessationOfOperation'));
      await c.settle();
      expect(deadLetterCount(c.readModels)).toBe(0);
      expect(await afterFreshCatchUps(c)).toEqual([0, 0]);
    } finally {
      await c.close();
    }
  });

  it("goes when the operator ends the enrolment the App-ID's credential revocation could not", async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    try {
      for (const step of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(step);
      await op(c, 'registerApplication', { appId: 'Rbilling', name: 'billing', provider: 'City Utilities' });
      await c.engine.execute(cmd.issueCredential('app-cred', 'Rbilling', at(30), { purpose: 'application', owner: { kind: 'app', id: 'Rbilling' } }));
      await c.engine.execute(cmd.provisionCredential('app-cred'));
      await op(c, 'enrolApplication', { appId: 'Rbilling', credentialId: 'app-cred' });
      // The id the cascade will derive for ending Rbilling's enrolment when app-cred is revoked, held by a node's registration.
      const revokeId = randomUUID();
      const cascadeId = derivedCommandId('cascade:endApplicationEnrolment:Rbilling', eventIdFor(revokeId, 0));
      await plant(c, 'node-decoy', { type: 'NodeRegistered', data: { nodeId: 'decoy', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] } } }, 'registerNode', cascadeId);
      await c.settle();
      await op(c, 'revokeCredential', { credentialId: 'app-cred', reason: 'keyCompromise' }, revokeId);
      await c.settle();
      expect(deadLetters(c.readModels)).toEqual([
        expect.objectContaining({ eventType: 'CredentialRevoked', command: 'endApplicationEnrolment', target: 'Rbilling', stream: 'application-Rbilling' }),
      ]);

      await op(c, 'endApplicationEnrolment', { appId: 'Rbilling', credentialId: 'app-cred', reason: 'keyCompromise' });
      await c.settle();
      expect(deadLetterCount(c.readModels)).toBe(0);
      expect(await afterFreshCatchUps(c)).toEqual([0, 0]);
    } finally {
      await c.close();
    }
  });
});
