import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { decodeStored } from '../domain/stored.ts';
import { derivedCommandId } from '../domain/event-ids.ts';
import { deadLetters, PROCESS_MANAGER_ACTOR } from '../projections/cascade/index.ts';
import { issue } from '../projections/cascade/issue.ts';
import { replayAll } from '../projections/replay/index.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';

/*
 * RS-16, HLR-212, seed 003 11.2.2 (review 121). The cascade carried a node's revocation reason on to its credentials
 * unchanged. `superseded` on a credential means its rotation handed over to a successor its node holds (the credential
 * machine's `handedOver`), so a rotating credential refused it whenever its successor was revoked first (its id sorted
 * first) or never provisioned; the refusal was logged as skipped and the credential stayed live under a revoked node,
 * off every CRL, with no dead letter and no replay finding. A holder's `superseded` now reaches its credentials as
 * `cessationOfOperation`, and a credential revocation the cascade cannot carry out while the credential stands is a
 * dead letter, never skipped.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const stateOf = async (c: Credence, id: string) => String((await c.engine.entity('credential', id)).snapshot.value);
const reasonOf = async (c: Credence, id: string) => (await c.store.readStream(`credential-${id}`)).at(-1)?.data;

/** meter-1 rotating `predecessor` (association sa-1 on it) onto `successor`, provisioned unless said. */
const rotating = async (predecessor: string, successor: string, provisionSuccessor = true): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  for (const x of [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(predecessor), cmd.provisionCredential(predecessor),
    cmd.configureAssociation('sa-1', predecessor), cmd.establishAssociation('sa-1', at(60)),
    cmd.issueCredential(successor, 'meter-1', at(90), { predecessorId: predecessor }),
    ...(provisionSuccessor ? [cmd.provisionCredential(successor)] : []),
    cmd.startCredentialRotation(at(30), predecessor, successor),
  ]) await c.engine.execute(x);
  await c.settle();
  return c;
};

describe("a node revoked as superseded while one of its credentials rotates (review 121)", () => {
  it.each([
    ['the successor sorts first', 'cred-9', 'cred-10', true],
    ['the predecessor sorts first', 'cred-1', 'cred-2', true],
    ['the successor was never provisioned', 'cred-1', 'cred-2', false],
  ])('revokes both credentials as cessationOfOperation when %s', async (_, predecessor, successor, provisioned) => {
    const c = await rotating(predecessor, successor, provisioned);
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'superseded' }, { actor: operator }));
    await c.settle();

    expect(await stateOf(c, predecessor)).toBe('revoked');
    expect(await stateOf(c, successor)).toBe('revoked');
    expect(await reasonOf(c, predecessor)).toMatchObject({ reason: 'cessationOfOperation' });
    expect(await reasonOf(c, successor)).toMatchObject({ reason: 'cessationOfOperation' });
    expect(String((await c.engine.entity('association', 'sa-1')).snapshot.value)).toBe('revoked');
    expect(deadLetters(c.readModels)).toEqual([]);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('keeps the reason of any other revocation of a node for its credentials', async () => {
    const c = await rotating('cred-9', 'cred-10');
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    expect(await reasonOf(c, 'cred-9')).toMatchObject({ reason: 'keyCompromise' });
    expect(await reasonOf(c, 'cred-10')).toMatchObject({ reason: 'keyCompromise' });
  });
});

describe('a credential revocation of the cascade that its machine refuses while the credential stands (review 121)', () => {
  it('is a dead letter naming the credential, not skipped', async () => {
    const c = await rotating('cred-9', 'cred-10');
    await c.engine.execute(command('revokeCredential', { credentialId: 'cred-10', reason: 'keyCompromise' }, { actor: operator }));
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    const revoked = (await c.store.readStream('node-meter-1')).at(-1)!;
    const decoded = decodeStored(revoked);
    if (!decoded.ok) throw new Error(decoded.reason);
    const logged: unknown[] = [];
    // A reaction as an older cascade made it: superseded, refused by cred-9's rotation (its successor is revoked).
    await issue(c.engine, c.readModels, (entry) => logged.push(entry), { commands: new Set(), endings: new Set() }, decoded.value, {
      type: 'revokeCredential',
      data: { credentialId: 'cred-9', reason: 'superseded' },
    });
    expect(logged).toEqual([expect.objectContaining({ outcome: 'dead-letter', command: 'revokeCredential', target: 'cred-9' })]);
    expect(deadLetters(c.readModels)).toEqual([expect.objectContaining({ command: 'revokeCredential', target: 'cred-9', eventType: 'NodeRevoked' })]);
    expect(await stateOf(c, 'cred-9')).toBe('associated');
  });

  it('is skipped once the credential has ended', async () => {
    const c = await rotating('cred-9', 'cred-10');
    await c.engine.execute(command('revokeCredential', { credentialId: 'cred-9', reason: 'keyCompromise' }, { actor: operator }));
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    const decoded = decodeStored((await c.store.readStream('node-meter-1')).at(-1)!);
    if (!decoded.ok) throw new Error(decoded.reason);
    const logged: unknown[] = [];
    await issue(c.engine, c.readModels, (entry) => logged.push(entry), { commands: new Set(), endings: new Set() }, decoded.value, {
      type: 'revokeCredential',
      data: { credentialId: 'cred-9', reason: 'superseded' },
    });
    expect(logged).toEqual([expect.objectContaining({ outcome: 'skipped', command: 'revokeCredential', target: 'cred-9' })]);
    expect(deadLetters(c.readModels)).toEqual([]);
  });
});

describe('a data folder whose cascade left a credential live under a node revoked as superseded (review 122)', () => {
  it('revokes it at the first start of this version: the cascade read model is rebuilt and its reactions run again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-superseded-'));
    try {
      // As the earlier cascade left it: the node and its successor credential revoked, the rotating predecessor live,
      // and the cascade's checkpoint past the node's revocation, its tables at schema version 12.
      const clock = new FakeClock(T0);
      let c = openCredence({ location: { dir }, clock });
      for (const x of [
        cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-9'), cmd.provisionCredential('cred-9'),
        cmd.configureAssociation('sa-1', 'cred-9'), cmd.establishAssociation('sa-1', at(60)),
        cmd.issueCredential('cred-10', 'meter-1', at(90), { predecessorId: 'cred-9' }), cmd.provisionCredential('cred-10'),
        cmd.startCredentialRotation(at(30), 'cred-9', 'cred-10'),
      ]) await c.engine.execute(x);
      await c.settle();
      const revoked = await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'superseded' }, { actor: operator }));
      const cause = revoked.events[0]!;
      await c.engine.executeAsSystem({
        type: 'revokeCredential',
        data: { credentialId: 'cred-10', reason: 'superseded' },
        metadata: { commandId: derivedCommandId('cascade:revokeCredential:cred-10', cause.id), actor: PROCESS_MANAGER_ACTOR, causationId: cause.id },
      });
      const head = (await c.store.headPosition())!;
      await c.close();
      const readModels = new Database(join(dir, 'readmodels.db'));
      readModels.prepare("UPDATE projection_checkpoints SET position = ? WHERE name = 'cascade'").run(head);
      readModels.prepare("UPDATE projection_schemas SET version = 12 WHERE name = 'cascade'").run();
      readModels.close();

      c = credence = openCredence({ location: { dir }, clock });
      await c.settle();
      expect(await stateOf(c, 'cred-9')).toBe('revoked');
      expect(await reasonOf(c, 'cred-9')).toMatchObject({ reason: 'cessationOfOperation' });
      expect(await reasonOf(c, 'cred-10')).toMatchObject({ reason: 'superseded' });
      expect(String((await c.engine.entity('association', 'sa-1')).snapshot.value)).toBe('revoked');
      expect(deadLetters(c.readModels)).toEqual([]);
      expect((await replayAll(c.store)).findings).toEqual([]);
    } finally {
      await credence?.close();
      credence = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
