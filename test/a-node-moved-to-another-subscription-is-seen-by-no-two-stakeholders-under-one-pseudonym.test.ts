import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock, MINUTE } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { enrolmentApplied, movedByEnrolment, setupDirectory } from '../projections/pseudonyms/directory.ts';
import { PseudonymDeriver, pseudonymHistory, resolvePseudonym, type PublicEvent, type PublicScope } from '../projections/pseudonyms/index.ts';
import { auditor, cmd, operator, T0 } from './support/fleet.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { testKey } from './support/pseudonym-fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { publicHistory, twoStakeholderFleet, twoStakeholderKey } from './support/two-stakeholder-fleet.ts';

/*
 * Review 366 (SER-025; seed 004 "pseudonyms … changed frequently to avoid simple correlation"; RS-17 moves): mover-08
 * moves from sub-01 to sub-09. It kept its pseudonym across the move, so both stakeholders' scoped streams named it,
 * and what is named under it (its CSE-ID, credentials, associations), under one pseudonym. Review 369: naming it ahead
 * under the epoch the move's rotation was to take served names no rotation recorded when that rotation never came. A
 * moved node is in no subscription's scope from its move until its next rotation: the old scope sees it up to its
 * move, the new one from that rotation on, under a name the old never saw; without that rotation, never (fail closed).
 */

/** Every public identifier a frame carries: the pseudonym prefixes of derive.ts, in its subject and data. */
const PSEUDONYM = /^(p-|\/cse-|ae-|sub-|cred-|sa-)[a-z2-7]{26}$/;
const pseudonymsOf = (frames: readonly PublicEvent[]): Set<string> => {
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      if (PSEUDONYM.test(value)) found.add(value);
    } else if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === 'object' && value !== null) Object.values(value).forEach(walk);
  };
  for (const frame of frames) {
    walk(frame.subject);
    walk(frame.data);
  }
  return found;
};

/** The node pseudonyms frames carry (`p-…`). */
const nodeNamesOf = (frames: readonly PublicEvent[]): string[] => [...pseudonymsOf(frames)].filter((p) => p.startsWith('p-'));

const scope = (subscriptions: string[]): PublicScope => ({ subscriptions }) as unknown as PublicScope;

/** Each node pseudonym the frames carry, resolved by an auditor: a name no rotation recorded is refused. */
const resolveAll = async (c: Credence, frames: readonly PublicEvent[]): Promise<Map<string, { nodeId: string; epoch: number }>> => {
  const out = new Map<string, { nodeId: string; epoch: number }>();
  for (const pseudonym of nodeNamesOf(frames)) {
    const r = await resolvePseudonym(c.engine, { pseudonym, reason: 'incident 369', actor: auditor });
    out.set(pseudonym, { nodeId: r.nodeId, epoch: r.epoch });
  }
  return out;
};

/** Each rotation the log holds, in log order: its trigger and epoch. */
const rotations = async (c: Credence, nodeId?: string): Promise<string[]> => {
  const out: string[] = [];
  for await (const r of c.store.readAll({ filter: { eventTypes: ['PseudonymRotated'] } })) {
    if (nodeId === undefined || r.data['nodeId'] === nodeId) out.push(`${String(r.data['trigger'])}@${String(r.data['epoch'])}`);
  }
  return out;
};

let c: Credence;
beforeAll(async () => {
  c = await twoStakeholderFleet();
}, 60_000);
afterAll(async () => {
  await c?.close();
});

describe('a node moved to another subscription', () => {
  it("is named in the new subscription's scope under no pseudonym the old one saw, of the node or of anything under it", async () => {
    const one = await publicHistory(c, scope(['sub-01']));
    const nine = await publicHistory(c, scope(['sub-09']));
    // The infrastructure Registrar CSE is no node's: one stable pseudonym for everyone (identities.ts), as before.
    const registrar = await new PseudonymDeriver(twoStakeholderKey).identifier('cse', '/in-cse', 0);
    const shared = [...pseudonymsOf(one)].filter((p) => pseudonymsOf(nine).has(p) && p !== registrar);
    expect(shared).toEqual([]);
    // sub-01 sees both its enrolments (meter-01, mover-08's first); sub-09 meter-09's only: the move frame is no one's.
    expect(one.filter((e) => e.type === 'NodeEnrolled')).toHaveLength(2);
    expect(nine.filter((e) => e.type === 'NodeEnrolled')).toHaveLength(1);
  });

  it('is seen by the new scope only from its rotation after the move on, and every name either scope serves resolves', async () => {
    const one = await publicHistory(c, scope(['sub-01']));
    const nine = await publicHistory(c, scope(['sub-09']));
    const unscoped = await publicHistory(c);
    const moveFrame = unscoped.filter((e) => e.type === 'NodeEnrolled').at(-1)!;
    expect(one.some((e) => e.position === moveFrame.position) || nine.some((e) => e.position === moveFrame.position)).toBe(false);
    const resolved = new Map([...(await resolveAll(c, one)), ...(await resolveAll(c, nine))]);
    await c.settle();
    const history = pseudonymHistory(c.readModels, 'mover-08');
    const moveRotation = history.find((h) => h.position > moveFrame.position)!;
    expect(moveRotation).toBeDefined();
    // sub-09 sees mover-08 (its second credential's issue) only after that rotation, under its epoch.
    const moverInNine = [...resolved].filter(([p, r]) => r.nodeId === 'mover-08' && pseudonymsOf(nine).has(p));
    expect(moverInNine.map(([, r]) => r.epoch)).toEqual([moveRotation.epoch]);
    const framesOfMover = nine.filter((e) => pseudonymsOf([e]).has(moverInNine[0]![0]));
    expect(framesOfMover.map((e) => e.type)).toEqual(['CredentialIssued']);
    for (const e of framesOfMover) expect(e.position).toBeGreaterThan(moveRotation.position);
    // sub-01 saw it only under epochs before the move's rotation.
    const moverInOne = [...resolved].filter(([p, r]) => r.nodeId === 'mover-08' && pseudonymsOf(one).has(p));
    expect(moverInOne.length).toBeGreaterThan(0);
    for (const [, r] of moverInOne) expect(r.epoch).toBeLessThan(moveRotation.epoch);
  });
});

const folder = temporaryFolders('credence-move-rotation-');

/** Opens the folder a minute on, runs `work`, closes it. */
const opener = (dir: string) => {
  const clock = new FakeClock(T0);
  return async <T>(work: (c: Credence) => Promise<T>): Promise<T> => {
    clock.advance(MINUTE);
    const c = openCredence({ location: { dir }, clock, pseudonyms: { key: testKey } });
    try {
      return await work(c);
    } finally {
      await c.close();
    }
  };
};

/** sub-1, sub-2, meter-1 enrolled under sub-1 with a credential, each step's reactions run. */
const enrolledUnderSub1 = async (c: Credence): Promise<void> => {
  for (const step of [cmd.createSubscription('sub-1'), cmd.createSubscription('sub-2'), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1', 'sub-1'), cmd.issueCredential('cred-1', 'meter-1')]) {
    await c.engine.execute(step);
    await c.settle();
  }
};

/** Every node name each scope serves resolves, and no two scopes share a pseudonym. */
const scopesDisjointAndResolvable = async (c: Credence): Promise<{ one: PublicEvent[]; two: PublicEvent[] }> => {
  const one = await publicHistory(c, scope(['sub-1']));
  const two = await publicHistory(c, scope(['sub-2']));
  expect([...pseudonymsOf(one)].filter((p) => pseudonymsOf(two).has(p))).toEqual([]);
  await resolveAll(c, one);
  await resolveAll(c, two);
  return { one, two };
};

describe('a node moved once its rotation never comes (review 369)', () => {
  it('revoked before the reaction: never in the new scope, and no scope serves a name no rotation recorded', async () => {
    const withOpen = opener(folder());
    await withOpen(async (c) => {
      await enrolledUnderSub1(c);
      // Stored, and the process stops before the rotation reacts to the move.
      await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
      await c.engine.execute(cmd.issueCredential('cred-2', 'meter-1'));
      await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'superseded' }, { actor: operator }));
    });
    await withOpen(async (c) => {
      await c.settle();
      // The machine refuses a rotation of a revoked node: none for the move.
      expect(await rotations(c, 'meter-1')).toEqual(['initial@0']);
      const { one, two } = await scopesDisjointAndResolvable(c);
      expect(two.map((e) => e.type)).toEqual(['SubscriptionCreated']);
      expect(one.map((e) => e.type)).toEqual(['SubscriptionCreated', 'NodeEnrolled', 'CredentialIssued']);
    });
  });

  it('skipped (read models lost between the move and its reaction): withheld until rotated on demand, then seen under the new name', async () => {
    const dir = folder();
    const withOpen = opener(dir);
    await withOpen(async (c) => {
      await enrolledUnderSub1(c);
      await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
      await c.engine.execute(cmd.issueCredential('cred-2', 'meter-1'));
    });
    // readmodels.db deleted: the rebuild's reactions skip what was stored before it (decided-before-reset.ts).
    for (const f of readdirSync(dir).filter((f) => f.startsWith('readmodels.db'))) rmSync(join(dir, f));
    await withOpen(async (c) => {
      await c.settle();
      expect(await rotations(c, 'meter-1')).toEqual(['initial@0']);
      const { two } = await scopesDisjointAndResolvable(c);
      expect(two.map((e) => e.type)).toEqual(['SubscriptionCreated']);
      // The remedy: `credence pseudonym rotate meter-1`.
      const rotated = await c.pseudonyms!.rotateNow('meter-1', operator, randomUUID());
      expect(rotated.outcome).toBe('rotated');
      await c.engine.execute(cmd.issueCredential('cred-3', 'meter-1'));
      await c.settle();
      const after = await scopesDisjointAndResolvable(c);
      expect(after.two.map((e) => e.type)).toEqual(['SubscriptionCreated', 'CredentialIssued']);
      const names = await resolveAll(c, after.two);
      expect([...names.values()]).toEqual([{ nodeId: 'meter-1', epoch: 1 }]);
    });
  });

  it('re-enrolled under the same subscription: still in its scope, and not rotated', async () => {
    const withOpen = opener(folder());
    await withOpen(async (c) => {
      await enrolledUnderSub1(c);
      await c.engine.execute(cmd.enrolNode('meter-1', 'sub-1'));
      await c.engine.execute(cmd.issueCredential('cred-2', 'meter-1'));
      await c.settle();
      expect(await rotations(c, 'meter-1')).toEqual(['initial@0']);
      const { one } = await scopesDisjointAndResolvable(c);
      expect(one.map((e) => e.type)).toEqual(['SubscriptionCreated', 'NodeEnrolled', 'CredentialIssued', 'NodeEnrolled', 'CredentialIssued']);
    });
  });
});

describe('a gateway moved to another subscription, named as the registrar of a node that stays (review 375)', () => {
  it('no pseudonym of any kind is shared between the two scopes, after its rotation too', async () => {
    const withOpen = opener(folder());
    await withOpen(async (c) => {
      await enrolledUnderSub1(c);
      // meter-1 (CSE /cse-meter-1) is the gateway; adn-1 stays under sub-1 and registers with it once it has moved.
      for (const step of [cmd.registerNode('adn-1'), cmd.enrolNode('adn-1', 'sub-1'), cmd.issueCredential('cred-a', 'adn-1'), cmd.provisionCredential('cred-a')]) {
        await c.engine.execute(step);
        await c.settle();
      }
      await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
      await c.settle();
      expect(await rotations(c, 'meter-1')).toEqual(['initial@0', 'demand@1']);
      await c.engine.execute(cmd.issueCredential('cred-2', 'meter-1'));
      await c.engine.execute(
        command(
          'configureAssociation',
          { associationId: 'sa-a', nodeId: 'adn-1', credentialId: 'cred-a', registree: { kind: 'cse', id: '/cse-adn-1' }, registrarCseId: '/cse-meter-1' },
          { actor: operator },
        ),
      );
      // sub-2's own AssociationConfigured names /cse-meter-1 (as registree) under meter-1's epoch 1.
      await c.engine.execute(cmd.provisionCredential('cred-2'));
      await c.engine.execute(cmd.configureAssociation('sa-2', 'cred-2', 'meter-1'));
      await c.settle();
      const { one, two } = await scopesDisjointAndResolvable(c);
      expect(one.map((e) => e.type)).toContain('AssociationConfigured');
      expect(two.map((e) => e.type)).toContain('AssociationConfigured');
      // The infrastructure's CSE, no node's, keeps its one stable name.
      const inCse = await new PseudonymDeriver(testKey).identifier('cse', '/in-cse', 0);
      const sa2 = two.find((e) => e.type === 'AssociationConfigured')!;
      expect((sa2.data as { registrarCseId: string }).registrarCseId).toBe(inCse);
    });
  });
});

describe.each(embeddedAndStandInStores())('on %s', (_name, openStore) => {
  it('a first enrolment records no rotation past the initial one, and a move one', async () => {
    const store = await openStore();
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, store, clock, pseudonyms: { key: testKey } });
    try {
      await enrolledUnderSub1(c);
      expect(await rotations(c, 'meter-1')).toEqual(['initial@0']);
      await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
      await c.settle();
      expect(await rotations(c, 'meter-1')).toEqual(['initial@0', 'demand@1']);
      await c.engine.execute(cmd.issueCredential('cred-2', 'meter-1'));
      await c.settle();
      const { two } = await scopesDisjointAndResolvable(c);
      expect(two.map((e) => e.type)).toEqual(['SubscriptionCreated', 'CredentialIssued']);
    } finally {
      await c.close();
    }
  }, 60_000);
});

describe('a directory built before it kept enrolments (an upgrade)', () => {
  it("counts each listed node's next enrolment a move (one rotation too many at worst, never a move not rotated)", () => {
    const db = new Database(':memory:');
    try {
      db.defaultSafeIntegers(true);
      setupDirectory(db);
      db.exec("DROP TABLE pseudonym_enrolments; INSERT INTO pseudonym_nodes (node_id, class, live) VALUES ('meter-1', 'smart-meter', 1)");
      setupDirectory(db);
      expect(movedByEnrolment(db, 'meter-1', 'sub-2', 10n)).toBe(true);
      // A node registered since: its first enrolment is none.
      expect(movedByEnrolment(db, 'meter-2', 'sub-1', 11n)).toBe(false);
      enrolmentApplied(db, 'meter-2', 'sub-1', 11n);
      expect(movedByEnrolment(db, 'meter-2', 'sub-1', 11n)).toBe(false);
      expect(movedByEnrolment(db, 'meter-2', 'sub-1', 12n)).toBe(false);
      expect(movedByEnrolment(db, 'meter-2', 'sub-2', 12n)).toBe(true);
      enrolmentApplied(db, 'meter-2', 'sub-2', 12n);
      // Applied again (a batch handled again): still the move it was.
      enrolmentApplied(db, 'meter-2', 'sub-2', 12n);
      expect(movedByEnrolment(db, 'meter-2', 'sub-2', 12n)).toBe(true);
    } finally {
      db.close();
    }
  });
});
