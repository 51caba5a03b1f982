/*
 * Review 344 (2): what ends a rotation now derives its command id from the rotation (its CredentialRotationStarted),
 * carried in the deadline. A deadline an earlier version wrote names no rotation: it keeps the id it had, so a command
 * recorded under that id before an upgrade is found as done (deduplicated), not sent again under another.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { derivedCommandId } from '../domain/event-ids.ts';
import { dueDeadlines, setupDeadlines } from '../projections/expiry/deadlines.ts';
import { at, rotateOne, T0 } from './support/fleet.ts';

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const revokedAs = async (oldRow: boolean): Promise<{ commandId: unknown; started: string }> => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  await rotateOne(c.engine); // cred-1 onto cred-2, held, overlap ending at day 30
  await c.settle();
  const started = (await c.store.readStream('credential-cred-1')).find((e) => e.type === 'CredentialRotationStarted')!;
  if (oldRow) c.readModels.prepare("UPDATE expiry_deadlines SET rotation = NULL WHERE purpose = 'rotation'").run();
  clock.set(at(31));
  await c.tick();
  const revoked = (await c.store.readStream('credential-cred-1')).at(-1)!;
  expect([revoked.type, (revoked.data as { reason: string }).reason]).toEqual(['CredentialRevoked', 'superseded']);
  return { commandId: revoked.metadata['commandId'], started: started.id };
};

describe('the command id of what ends a rotation', () => {
  it('is derived from the rotation for a deadline written now', async () => {
    const { commandId, started } = await revokedAs(false);
    expect(commandId).toBe(derivedCommandId('rotation:credential-cred-1', `${Date.parse(at(30))}:${started}`));
  });

  it('is the one it always was for a deadline an earlier version wrote', async () => {
    const { commandId } = await revokedAs(true);
    expect(commandId).toBe(derivedCommandId('rotation:credential-cred-1', String(Date.parse(at(30)))));
  });

  it('reads a read model an earlier version wrote, its deadlines naming no rotation', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE expiry_deadlines (stream TEXT NOT NULL, purpose TEXT NOT NULL, due INTEGER NOT NULL, command TEXT NOT NULL, PRIMARY KEY (stream, purpose)) WITHOUT ROWID');
    const command = { type: 'revokeCredential', data: { credentialId: 'cred-1', reason: 'superseded' } };
    db.prepare('INSERT INTO expiry_deadlines VALUES (?, ?, ?, ?)').run('credential-cred-1', 'rotation', 5, JSON.stringify(command));
    setupDeadlines(db);
    setupDeadlines(db);
    expect(dueDeadlines(db, 10)).toStrictEqual([{ stream: 'credential-cred-1', purpose: 'rotation', due: 5, command }]);
    db.close();
  });
});
