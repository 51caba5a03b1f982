// Found in review: the expiry scheduler issued a due deadline's command under its derived id (version 8) without asking
// whose command the id held. When a history written before admission reserved derived ids holds it (an operator's
// command, or the scheduler's own for another command type), the engine refuses the expiry as a reused id, and the
// scheduler kept the deadline and failed on it at every tick, forever. It now asks `recorded` with its own sender
// (the cascade's rule, a-reaction-counts-only-its-own-command-as-done.test.ts): a command that is not its own
// dead-letters the deadline, once, with a typed reason; the entity is never counted as expired. The records below are
// planted through the store, past admission, as such a log holds them.
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { derivedCommandId, eventIdFor } from '../domain/event-ids.ts';
import type { Actor } from '../domain/metadata.ts';
import { expiryDeadLetters, SCHEDULER_ACTOR, type ExpiryDeadLetter } from '../projections/expiry/index.ts';
import { ops, settled } from './http-sse.fixtures.ts';
import { at, cmd, issueCredentialData, operator, placeholderKey, T0 } from './support/fleet.ts';
import { startTestService } from './support/service.ts';

const NOT_AFTER = at(30);

/** `event` starting `stream` under `commandId` by `actor` for `commandType`, straight through the store. */
const plant = async (c: Pick<Credence, 'store' | 'engine'>, stream: string, event: { type: string; data: object }, commandType: string, commandId: string, actor: Actor) => {
  await c.store.appendToStream(stream, [{
    id: eventIdFor(commandId, 0), type: event.type, data: event.data as never,
    metadata: { schemaVersion: 1, actor, commandId, commandType, correlationId: commandId, causationId: commandId, occurredAt: c.engine.clock.now().toISOString() },
  }], { expectedRevision: { kind: 'no_stream' }, commandId });
};

/** Node gw with two credentials due at NOT_AFTER: gw-c1 issued under the id its expiry derives, by `by`; gw-c2 as usual. */
const twoDueOneIdTaken = async (by: { actor: Actor; commandType: string }) => {
  const letters: ExpiryDeadLetter[] = [];
  const clock = new FakeClock(T0);
  const c = openCredence({ location: { memory: true }, clock, expiryDeadLetter: (letter) => letters.push(letter) });
  for (const step of [cmd.createSubscription(), cmd.registerNode('gw'), cmd.enrolNode('gw')]) await c.engine.execute(step);
  const expiryId = derivedCommandId('expiry:credential-gw-c1', String(Date.parse(NOT_AFTER)));
  const issued = { type: 'CredentialIssued', data: issueCredentialData('gw-c1', 'gw', { notBefore: T0, notAfter: NOT_AFTER }) };
  await plant(c, 'credential-gw-c1', issued, by.commandType, expiryId, by.actor);
  for (const step of [cmd.provisionCredential('gw-c1'), cmd.issueCredential('gw-c2', 'gw', NOT_AFTER), cmd.provisionCredential('gw-c2')]) await c.engine.execute(step);
  await c.settle();
  clock.set(at(31));
  return { c, letters, expiryId };
};

const state = async (c: Credence, id: string) => String((await c.engine.entity('credential', id)).snapshot.value);
const length = async (c: Credence, stream: string) => (await c.store.readStream(stream)).length;

describe('the expiry scheduler, under a derived command id another command holds', () => {
  for (const [who, by] of [
    ['an operator recorded another command under it', { actor: operator, commandType: 'issueCredential' }],
    ['its own system actor recorded another command type under it', { actor: SCHEDULER_ACTOR, commandType: 'issueCredential' }],
  ] as const) {
    it(`dead-letters the deadline once with a typed reason, never counts the expiry done, writes nothing for it, when ${who}`, async () => {
      const { c, letters, expiryId } = await twoDueOneIdTaken(by);
      const before = await length(c, 'credential-gw-c1');

      // The tick goes through: gw-c2 expires; gw-c1's expiry can never be recorded under its id and waits for an operator.
      expect(await c.scheduler.tick()).toBe(1);
      expect(await state(c, 'gw-c2')).toBe('expired');
      expect(await state(c, 'gw-c1')).toBe('enrolled');
      expect(await length(c, 'credential-gw-c1')).toBe(before);
      const expected = { stream: 'credential-gw-c1', purpose: 'expiry', due: Date.parse(NOT_AFTER), command: 'expireCredential', commandId: expiryId, code: 'command_id_taken' };
      expect(expiryDeadLetters(c.readModels)).toEqual([expect.objectContaining(expected)]);
      expect(letters).toEqual([expect.objectContaining(expected)]);
      expect(letters[0]!.reason).toContain(`its command id ${expiryId} is taken by a command that is not this reaction`);

      // Not retried: the next ticks neither fail nor try it again, and nothing more is told or written.
      await c.settle();
      expect(await c.scheduler.tick()).toBe(0);
      expect(await c.scheduler.tick()).toBe(0);
      expect(letters).toHaveLength(1);
      // Nothing is due any more (the subscription's expiry, a year on, is what is left).
      expect(c.scheduler.next()).toBeGreaterThan(Date.parse(at(31)));
      expect(await length(c, 'credential-gw-c1')).toBe(before);
      expect(await state(c, 'gw-c1')).toBe('enrolled');
      await c.close();
    });
  }
});

describe('an expiry dead letter in the running service', () => {
  it('is logged at warn once, with the stream, the command and its typed reason and no event data, and counted on /metrics', async () => {
    const clock = new FakeClock(new Date());
    const svc = await startTestService({ clock });
    try {
      const { credence } = svc.service.context;
      for (const step of [ops.createSubscription('sub-x'), ops.registerNode('gx'), ops.enrolNode('gx', 'sub-x')]) await credence.engine.execute(step);
      const notAfter = new Date(clock.now().getTime() + 86_400_000).toISOString();
      const expiryId = derivedCommandId('expiry:credential-gx-c1', String(Date.parse(notAfter)));
      const data = issueCredentialData('gx-c1', 'gx', { notBefore: new Date(clock.now().getTime() - 1_000).toISOString(), notAfter });
      await plant(credence, 'credential-gx-c1', { type: 'CredentialIssued', data }, 'issueCredential', expiryId, operator);
      await settled(svc);
      const gauge = async (): Promise<number> => Number(/^credence_expiry_dead_letters (\d+)$/m.exec(await (await fetch(`${svc.url}/metrics`)).text())?.[1]);
      expect(await gauge()).toBe(0);

      clock.advance(2 * 86_400_000);
      const lines = () => svc.logs().map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.msg.startsWith('expiry dead letter'));
      for (let waited = 0; lines().length === 0 && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
      // A few more ticks (200 ms apart): it is told once, not at each.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(lines()).toEqual([expect.objectContaining({ level: 40, stream: 'credential-gx-c1', command: 'expireCredential', code: 'command_id_taken' })]);
      expect(JSON.stringify(lines()[0])).not.toContain(placeholderKey('gx-c1').publicKey);
      expect(await gauge()).toBe(1);
      // Issued and never expired.
      expect(String((await credence.engine.entity('credential', 'gx-c1')).snapshot.value)).toBe('initialized');
    } finally {
      await svc.close();
    }
  }, 30_000);
});
