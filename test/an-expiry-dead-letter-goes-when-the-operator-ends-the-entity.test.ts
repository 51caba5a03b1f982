// Found in review: a deadline the expiry scheduler dead-lettered (its derived command id held by another command) stayed
// in `expiry_dead_letters`, and counted in `credence_expiry_dead_letters`, after the operator ended the entity by hand
// as the dead letter asks; a rebuild cleared it, so the table told the rebuild history rather than the log. The
// stream's final event now drops its dead letters with its deadlines, and an abandoned rotation its rotation one.
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { derivedCommandId, eventIdFor } from '../domain/event-ids.ts';
import type { DecodedEvent } from '../domain/stored.ts';
import { expiryDeadLetterCount, expiryDeadLetters, expiryScheduler } from '../projections/expiry/index.ts';
import { addExpiryDeadLetter, type ExpiryDeadLetter } from '../projections/expiry/dead-letters.ts';
import { at, cmd, issueCredentialData, operator, T0 } from './support/fleet.ts';

const NOT_AFTER = at(30);

/** Node gw with credential gw-c1 due at NOT_AFTER, issued (through the store, as a legacy log holds it) under the id its expiry derives. */
const deadLettered = async (): Promise<Credence> => {
  const clock = new FakeClock(T0);
  const c = openCredence({ location: { memory: true }, clock });
  for (const step of [cmd.createSubscription(), cmd.registerNode('gw'), cmd.enrolNode('gw')]) await c.engine.execute(step);
  const commandId = derivedCommandId('expiry:credential-gw-c1', String(Date.parse(NOT_AFTER)));
  await c.store.appendToStream('credential-gw-c1', [{
    id: eventIdFor(commandId, 0), type: 'CredentialIssued', data: issueCredentialData('gw-c1', 'gw', { notBefore: T0, notAfter: NOT_AFTER }) as never,
    metadata: { schemaVersion: 1, actor: operator, commandId, commandType: 'issueCredential', correlationId: commandId, causationId: commandId, occurredAt: T0 },
  }], { expectedRevision: { kind: 'no_stream' }, commandId });
  await c.engine.execute(cmd.provisionCredential('gw-c1'));
  await c.settle();
  clock.set(at(31));
  await c.scheduler.tick();
  expect(expiryDeadLetters(c.readModels)).toEqual([expect.objectContaining({ stream: 'credential-gw-c1', purpose: 'expiry', code: 'command_id_taken' })]);
  return c;
};

describe('an expiry dead letter, once the operator ends the entity by hand', () => {
  it('is gone at the next catch-up, and a rebuild of the expiry read model leaves the same count', async () => {
    const c = await deadLettered();
    // Given the dead letter; when the operator revokes the credential by hand and the projections catch up.
    await c.engine.execute(cmd.revokeCredential('gw-c1'));
    await c.settle();
    // Then it is no longer counted (credence_expiry_dead_letters reads this), and the log alone decides it.
    expect(expiryDeadLetterCount(c.readModels)).toBe(0);
    await c.runner.rebuild('expiry');
    expect(expiryDeadLetterCount(c.readModels)).toBe(0);
    await c.close();
  });

  it('stays while the entity has not ended', async () => {
    const c = await deadLettered();
    await c.settle();
    await c.scheduler.tick();
    expect(expiryDeadLetterCount(c.readModels)).toBe(1);
    await c.close();
  });
});

describe("an abandoned rotation's dead letter", () => {
  const event = (stream: string, type: string): DecodedEvent => ({ record: { streamId: stream }, event: { type, data: {} } }) as unknown as DecodedEvent;
  const letter = (stream: string, purpose: ExpiryDeadLetter['purpose']): ExpiryDeadLetter =>
    ({ stream, purpose, due: 1, command: 'revokeCredential', commandId: `id-${stream}-${purpose}`, code: 'command_id_taken', reason: 'taken' });
  const purposes = (db: Database.Database) => expiryDeadLetters(db).map((l) => `${l.stream}/${l.purpose}`);

  it('goes with the rotation abandoned; its expiry one and other streams\' stay', () => {
    const db = openReadModels({ memory: true });
    const scheduler = expiryScheduler({} as never);
    scheduler.setup(db);
    for (const l of [letter('credential-a', 'rotation'), letter('credential-a', 'expiry'), letter('credential-b', 'rotation')]) addExpiryDeadLetter(db, l);
    scheduler.apply!(db, event('credential-a', 'CredentialRotationAbandoned'));
    expect(purposes(db)).toEqual(['credential-a/expiry', 'credential-b/rotation']);
    scheduler.apply!(db, event('credential-a', 'CredentialRevoked'));
    expect(purposes(db)).toEqual(['credential-b/rotation']);
    db.close();
  });
});
