// Review 251 (HLR-212): a rotation's overlap ending at the predecessor's notAfter (review 139) gives its stream two
// deadlines at one instant, the rotation read first. When the rotation's revocation as superseded was kept (failed
// with a typed error: a conflict, a busy store; waited; or its handover refused), the tick went on to the expiry due
// at the same instant: the predecessor ended expired, the rotation deadline was dropped with it (no superseded CRL
// entry, no invalidity date), and the tick still said the failed deadline was kept for the next tick. A stream's
// deadline kept now holds back its later ones, which the next tick decides in order.
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { concurrencyConflict, illegalTransition, storeUnavailable } from '../domain/errors.ts';
import type { CommandSink } from '../domain/ports/index.ts';
import { putDeadline } from '../projections/expiry/deadlines.ts';
import { expiryScheduler } from '../projections/expiry/index.ts';
import { at, cmd, T0 } from './support/fleet.ts';

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** Given cred-1 of meter-1 valid until day 30, rotating onto cred-2 (provisioned, until day 90), the overlap ending on day 30. */
const rotationEndingAtNotAfter = async (): Promise<{ readonly c: Credence; readonly clock: FakeClock }> => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  for (const step of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(step);
  await c.engine.execute(cmd.issueCredential('cred-1', 'meter-1', at(30)));
  await c.engine.execute(cmd.provisionCredential('cred-1'));
  await c.engine.execute(cmd.issueCredential('cred-2', 'meter-1', at(90), { predecessorId: 'cred-1' }));
  await c.engine.execute(cmd.provisionCredential('cred-2'));
  await c.engine.execute(cmd.startCredentialRotation(at(30), 'cred-1', 'cred-2'));
  await c.settle();
  return { c, clock };
};

/** The engine's system commands, `revokeCredential` failing with what `failure` throws while it gives one. */
const failingRevocations = (c: Credence, failure: () => Error | undefined): void => {
  const executeAsSystem = c.engine.executeAsSystem.bind(c.engine);
  (c.engine as { executeAsSystem: typeof executeAsSystem }).executeAsSystem = async (input) => {
    const error = (input as { type: string }).type === 'revokeCredential' ? failure() : undefined;
    if (error !== undefined) throw error;
    return executeAsSystem(input);
  };
};

const once = (error: Error): (() => Error | undefined) => {
  let thrown = false;
  return () => (thrown ? undefined : ((thrown = true), error));
};

const refusedHandover = () =>
  illegalTransition({ streamId: 'credential-cred-1', state: 'enrolled', attempted: 'CredentialRevoked', allowed: ['CredentialRevoked'], rule: 'handedOver' });

const expectSupersededNotExpired = async (c: Credence): Promise<void> => {
  const events = await c.store.readStream('credential-cred-1');
  expect(events.map((e) => e.type)).not.toContain('CredentialExpired');
  expect(events.at(-1)).toMatchObject({ type: 'CredentialRevoked', data: { credentialId: 'cred-1', reason: 'superseded' } });
  expect((await c.engine.entity('credential', 'cred-1')).snapshot).toMatchObject({ value: 'revoked', context: { revocationReason: 'superseded' } });
  expect(String((await c.engine.entity('credential', 'cred-2')).snapshot.value)).toBe('enrolled');
};

describe('a predecessor whose revocation as superseded at its notAfter is kept by a tick (review 251, HLR-212)', () => {
  for (const [name, error] of [
    ['a concurrency conflict', concurrencyConflict('credential-cred-1', '5', '6')],
    ['a busy store', storeUnavailable('busy', 'SQLITE_BUSY: database is locked')],
  ] as const) {
    it(`failed once with ${name}: stays as it is, both deadlines kept, and is revoked as superseded at the next tick, never expired`, async () => {
      const { c, clock } = await rotationEndingAtNotAfter();
      failingRevocations(c, once(error));
      clock.set(at(31));

      await expect(c.scheduler.tick()).rejects.toThrow(/^1 due deadline\(s\) could not be handled and are kept for the next tick; the first, credential-cred-1/);
      await c.settle();
      expect(String((await c.engine.entity('credential', 'cred-1')).snapshot.value)).toBe('enrolled');
      expect(c.scheduler.next()).toBe(Date.parse(at(30)));

      await c.scheduler.tick();
      await c.settle();
      await expectSupersededNotExpired(c);
      // Only the successor's expiry is left.
      expect(c.scheduler.next()).toBe(Date.parse(at(90)));
    });
  }

  it('refused its handover at each decision of a tick: kept with the expiry behind it, and revoked as superseded at the next tick', async () => {
    const { c, clock } = await rotationEndingAtNotAfter();
    let refusals = 3; // ROTATION_DECISIONS: every decision of the first tick
    failingRevocations(c, () => (refusals-- > 0 ? refusedHandover() : undefined));
    clock.set(at(31));

    expect(await c.scheduler.tick()).toBe(0);
    await c.settle();
    expect(String((await c.engine.entity('credential', 'cred-1')).snapshot.value)).toBe('enrolled');

    await c.scheduler.tick();
    await c.settle();
    await expectSupersededNotExpired(c);
  });
});

describe('a stream whose rotation is kept on a full page, its expiry at the same instant on the next', () => {
  it('has the expiry held until a tick reads the rotation again, then both in order', async () => {
    const due = Date.parse(T0) + 1_000;
    let viewFails = true;
    const sent: string[] = [];
    const credential = (id: string) =>
      id === 'cred-1'
        ? { value: 'enrolled', context: { credentialId: id, successorId: 'cred-2', overlapEndsAt: due } }
        : { value: 'enrolled', context: { credentialId: id, notBefore: due - 10_000, notAfter: due + 10_000, provisionedAt: due - 5_000 } };
    const engine = {
      clock: { now: () => new Date(due + 10_000) },
      async view(_kind: string, id: string) {
        // Reading the predecessor fails once with a typed error: the rotation is kept.
        if (id === 'cred-1' && viewFails) {
          viewFails = false;
          throw concurrencyConflict('credential-cred-1', '5', '6');
        }
        return credential(id);
      },
      async executeAsSystem(command: { type: string; data: Record<string, string> }) {
        sent.push(`${command.type} ${Object.values(command.data)[0]}`);
        return { deduplicated: false, events: [] };
      },
    } as unknown as CommandSink;
    const db = new Database(':memory:');
    try {
      const scheduler = expiryScheduler(engine);
      scheduler.setup!(db);
      // 999 expiries due before, so that cred-1's rotation is the last of a full page (1,000) and its expiry the next.
      const id = (i: number) => `a${String(i).padStart(4, '0')}`;
      for (let i = 0; i < 999; i++) {
        putDeadline(db, { stream: `association-${id(i)}`, purpose: 'expiry', due: due - 1_000 + i, command: { type: 'expireAssociation', data: { associationId: id(i) } } });
      }
      putDeadline(db, { stream: 'credential-cred-1', purpose: 'rotation', due, command: { type: 'revokeCredential', data: { credentialId: 'cred-1', reason: 'superseded' } } });
      putDeadline(db, { stream: 'credential-cred-1', purpose: 'expiry', due, command: { type: 'expireCredential', data: { credentialId: 'cred-1' } } });

      await expect(scheduler.tick()).rejects.toThrow(/^1 due deadline\(s\) could not be handled and are kept for the next tick; the first, credential-cred-1/);
      expect(sent.filter((s) => s.endsWith('cred-1'))).toEqual([]);
      // The next page holds only the expiry: held back behind the rotation kept.
      expect(await scheduler.tick()).toBe(0);
      expect(sent.filter((s) => s.endsWith('cred-1'))).toEqual([]);
      // Round to the oldest: the rotation first, then the expiry (which cred-1's machine would refuse, revoked).
      await scheduler.tick();
      expect(sent.filter((s) => s.endsWith('cred-1'))).toEqual(['revokeCredential cred-1', 'expireCredential cred-1']);
    } finally {
      db.close();
    }
  });
});
