import { copyFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock, MINUTE } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { PseudonymDeriver, pseudonymHistory, resolvePseudonym, type PublicEvent, type PublicScope } from '../projections/pseudonyms/index.ts';
import { auditor, cmd, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { publicHistory, twoStakeholderFleet, twoStakeholderKey } from './support/two-stakeholder-fleet.ts';

/*
 * Review 366 (SER-025; seed 004 "pseudonyms … changed frequently to avoid simple correlation"; RS-17 moves): mover-08
 * moves from sub-01 to sub-09. It kept its pseudonym across the move, so both stakeholders' scoped streams named it,
 * and what is named under it (its CSE-ID, credentials, associations), under one pseudonym until the next interval.
 * The new subscription sees it from its move frame on under names the old one never saw.
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

const scope = (subscriptions: string[]): PublicScope => ({ subscriptions }) as unknown as PublicScope;

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
    // Both scopes do see mover-08: sub-01 before the move, sub-09 from its move frame on.
    expect(one.filter((e) => e.type === 'NodeEnrolled')).toHaveLength(2);
    expect(nine.filter((e) => e.type === 'NodeEnrolled')).toHaveLength(2);
  });

  it('is named from its move frame on under a rotation recorded for the move, which an auditor resolves', async () => {
    const nine = await publicHistory(c, scope(['sub-09']));
    const unscoped = await publicHistory(c);
    const moveFrame = nine.filter((e) => e.type === 'NodeEnrolled').at(-1)!;
    // The unscoped stream names the frame as the scoped one does.
    expect(unscoped.find((e) => e.position === moveFrame.position)).toEqual(moveFrame);
    const resolution = await resolvePseudonym(c.engine, { pseudonym: moveFrame.subject, reason: 'incident 366', actor: auditor });
    expect(resolution.nodeId).toBe('mover-08');
    await c.settle();
    // Recorded after the move frame (the rotation reacts to it), by the rotation's own actor.
    const history = pseudonymHistory(c.readModels, 'mover-08');
    const moved = history.find((h) => h.epoch === resolution.epoch)!;
    expect(moved.position).toBeGreaterThan(moveFrame.position);
    // Nothing named in sub-01's scope is this epoch's: every frame of mover-08 there is named under an earlier one.
    const one = await publicHistory(c, scope(['sub-01']));
    const mover = new Set(history.map((h) => h.pseudonym));
    const named = one.filter((e) => mover.has(e.subject) || mover.has(String(e.data['nodeId'])));
    expect(named.length).toBeGreaterThan(0);
    for (const e of named) expect(history.find((h) => h.pseudonym === (mover.has(e.subject) ? e.subject : e.data['nodeId']))!.epoch).toBeLessThan(resolution.epoch);
  });
});

const folder = temporaryFolders('credence-move-rotation-');

/** Each rotation the log holds, in log order: its trigger and epoch. */
const rotations = async (c: Credence): Promise<string[]> => {
  const out: string[] = [];
  for await (const r of c.store.readAll({ filter: { eventTypes: ['PseudonymRotated'] } })) out.push(`${String(r.data['trigger'])}@${String(r.data['epoch'])}`);
  return out;
};

describe('a node moved while the rotation is stopped', () => {
  it('is named from its move frame on under the rotation recorded at the next start, as served before it, and the move is rotated once', async () => {
    const dir = folder();
    const clock = new FakeClock(T0);
    const withOpen = async <T>(work: (c: Credence) => Promise<T>): Promise<T> => {
      clock.advance(MINUTE);
      const c = openCredence({ location: { dir }, clock, pseudonyms: { key: testKey } });
      try {
        return await work(c);
      } finally {
        await c.close();
      }
    };
    // No rotation policy: only the registration and the move rotate the node.
    const servedBefore = await withOpen(async (c) => {
      for (const step of [cmd.createSubscription('sub-1'), cmd.createSubscription('sub-2'), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1', 'sub-1'), cmd.issueCredential('cred-1', 'meter-1')]) {
        await c.engine.execute(step);
        await c.settle();
      }
      // Stored, and the process stops before the rotation reacts to it.
      await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
      await c.engine.execute(cmd.issueCredential('cred-2', 'meter-1'));
      return publicHistory(c, scope(['sub-2']));
    });
    // readmodels.db as the stop left it: put back below, the move's reaction runs again over the same directory.
    const saved = folder();
    const readModelFiles = (d: string) => readdirSync(d).filter((f) => f.startsWith('readmodels.db'));
    for (const f of readModelFiles(dir)) copyFileSync(join(dir, f), join(saved, f));
    await withOpen(async (c) => {
      await c.settle();
      expect(await rotations(c)).toEqual(['initial@0', 'demand@1']);
      const one = await publicHistory(c, scope(['sub-1']));
      const two = await publicHistory(c, scope(['sub-2']));
      expect(two).toEqual(servedBefore);
      expect(two.map((e) => e.type)).toEqual(['SubscriptionCreated', 'NodeEnrolled', 'CredentialIssued']);
      const shared = [...pseudonymsOf(one)].filter((p) => pseudonymsOf(two).has(p));
      expect(shared).toEqual([]);
      expect((await resolvePseudonym(c.engine, { pseudonym: two[1]!.subject, reason: 'incident 366', actor: auditor })).epoch).toBe(1);
    });
    // The reaction run again (read models lost after it recorded its rotation) finds it recorded: nothing added.
    for (const f of readModelFiles(dir)) rmSync(join(dir, f));
    for (const f of readModelFiles(saved)) copyFileSync(join(saved, f), join(dir, f));
    await withOpen(async (c) => {
      await c.settle();
      expect(await rotations(c)).toEqual(['initial@0', 'demand@1']);
      expect(await publicHistory(c, scope(['sub-2']))).toEqual(servedBefore);
    });
  });
});
