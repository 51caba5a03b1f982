/*
 * Review 344 (1): a tick waits for the cascade to react to the endings it recorded before a deadline due later (review
 * 293), but what it was owed lived within one tick. A tick reads 1,000 deadlines at most: after a long downtime the
 * first deadline on the next tick's page ran without waiting, and an association the process manager revokes as
 * superseded with the service up was expired by the scheduler instead. What the cascade is owed is now kept across
 * ticks, until a wait for it resolved.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { concurrencyConflict } from '../domain/errors.ts';
import type { CommandSink } from '../domain/ports/index.ts';
import { expiryScheduler } from '../projections/expiry/index.ts';
import { putDeadline } from '../projections/expiry/deadlines.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

describe('an expiry backlog of more than one page after a downtime', () => {
  it('lets the cascade revoke an association as superseded when its predecessor was revoked on the page before', async () => {
    const clock = new FakeClock(T0);
    const c = (credence = openCredence({ location: { memory: true }, clock }));
    // 999 subscriptions ending at day 4: with the rotation's overlap ending at day 5, a full page.
    for (let i = 0; i < 999; i++) {
      await c.engine.execute(command('createSubscription', { subscriptionId: `bulk-${i}`, subscriber: 'City Utilities', notBefore: T0, notAfter: at(4) }, { actor: operator }));
    }
    for (const x of [
      cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1'),
      cmd.configureAssociation('sa-1', 'cred-1'), cmd.establishAssociation('sa-1', at(6)),
      cmd.issueCredential('cred-2', 'meter-1', at(90), { predecessorId: 'cred-1' }), cmd.provisionCredential('cred-2'),
      cmd.startCredentialRotation(at(5)),
    ]) await c.engine.execute(x);
    await c.settle();
    clock.set(at(7));
    // The ticks back to back, as the live runtime runs them: nothing settles between them but what a tick awaits.
    await c.scheduler.tick({ reactionsHandled: c.settle });
    await c.scheduler.tick({ reactionsHandled: c.settle });
    await c.settle();
    const cred1 = (await c.store.readStream('credential-cred-1')).at(-1)!;
    expect([cred1.type, (cred1.data as { reason?: string }).reason]).toEqual(['CredentialRevoked', 'superseded']);
    const sa1 = (await c.store.readStream('association-sa-1')).at(-1)!;
    expect([sa1.type, (sa1.data as { reason?: string }).reason]).toEqual(['AssociationRevoked', 'superseded']);
  }, 60_000);
});

/**
 * A scheduler over associations a and b, due a millisecond apart, whose engine records each expiry in `seen` (after
 * `before`, which may throw as the engine would); the clock past both.
 */
const twoDeadlines = (before: (associationId: string) => void = () => {}) => {
  const due = Date.parse(T0);
  const seen: string[] = [];
  const engine = {
    clock: { now: () => new Date(due + 10_000) },
    async executeAsSystem(c: { data: { associationId: string } }) {
      before(c.data.associationId);
      seen.push(`expire ${c.data.associationId}`);
      return { deduplicated: false, events: [] };
    },
  } as unknown as CommandSink;
  const db = new Database(':memory:');
  const scheduler = expiryScheduler(engine);
  scheduler.setup!(db);
  for (const [id, at] of [['a', due], ['b', due + 1]] as const) {
    putDeadline(db, { stream: `association-${id}`, purpose: 'expiry', due: at, command: { type: 'expireAssociation', data: { associationId: id } } });
  }
  return { seen, db, scheduler };
};

describe('an expiry tick whose wait for the cascade failed', () => {
  it('waits for the cascade at the next tick before the deadline due later', async () => {
    const { seen, db, scheduler } = twoDeadlines();
    let waits = 0;
    const reactionsHandled = async () => {
      seen.push('wait');
      // The first wait fails (the cascade's store busy): the tick ends there, b kept.
      if (waits++ === 0) throw new Error('cascade unavailable');
    };
    await expect(scheduler.tick({ reactionsHandled })).rejects.toThrow(/could not be handled/);
    await scheduler.tick({ reactionsHandled });
    expect(seen).toEqual(['expire a', 'wait', 'wait', 'expire b']);
    db.close();
  });
});

describe('an expiry tick started again at the oldest deadline', () => {
  it('waits for the cascade before a kept deadline due before the ending the last tick recorded', async () => {
    let conflicts = 0;
    // a's first expiry meets a conflict past the retries: kept, and tried again when the next tick starts over.
    const { seen, db, scheduler } = twoDeadlines((associationId) => {
      if (associationId === 'a' && conflicts++ === 0) throw concurrencyConflict('association-a', '1', '2');
    });
    const reactionsHandled = async () => void seen.push('wait');
    await expect(scheduler.tick({ reactionsHandled })).rejects.toThrow(/could not be handled/);
    await scheduler.tick({ reactionsHandled });
    // With the service up the cascade reacted to b's ending before a was tried again.
    expect(seen).toEqual(['expire b', 'wait', 'expire a']);
    db.close();
  });
});
