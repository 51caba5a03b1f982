/**
 * Review 208 finding 3 (SER-011, SER-025): rebuilding the read models ran the pseudonym reaction again over every past
 * AssociationConfigured under today's `onAssociation` setting, and appended a new `association` rotation for each
 * association of a live node configured while the setting was off: a rebuild decided what the live run had not. A
 * rebuild (asked for, or a readmodels.db deleted by hand) now issues no association rotation for the events before it:
 * those the live run recorded are found done, none is added; an association configured after it is decided live.
 */
import { rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock, MINUTE } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import type { RotationPolicyInput } from '../projections/pseudonyms/index.ts';
import { cmd, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-rebuild-association-');

const ON_ASSOCIATION: RotationPolicyInput = { default: { onAssociation: true } };

const open = (dir: string, clock: FakeClock, policy?: RotationPolicyInput): Credence =>
  openCredence({ location: { dir }, clock, pseudonyms: { key: testKey, ...(policy !== undefined ? { policy } : {}) } });

/** The triggers of the rotations the log holds, in log order. */
const triggers = async (c: Credence): Promise<string[]> => {
  const out: string[] = [];
  for await (const r of c.store.readAll({ filter: { eventTypes: ['PseudonymRotated'] } })) out.push(String(r.data['trigger']));
  return out;
};

const run = async (c: Credence, clock: FakeClock, steps: readonly unknown[]): Promise<void> => {
  for (const step of steps) {
    clock.advance(MINUTE);
    await c.engine.execute(step);
    await c.settle();
  }
};

/** A node with an association configured while rotation on association was off (the default policy). */
const configuredWhileOff = async (): Promise<{ dir: string; clock: FakeClock }> => {
  const dir = folder();
  const clock = new FakeClock(T0);
  const c = open(dir, clock);
  try {
    await run(c, clock, [
      cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.issueCredential('cred-1', 'meter-1'),
      cmd.provisionCredential('cred-1'), cmd.configureAssociation('sa-1', 'cred-1', 'meter-1'),
    ]);
    expect(await triggers(c)).toEqual(['initial']);
  } finally {
    await c.close();
  }
  return { dir, clock };
};

describe('a rebuild of the pseudonym read model under onAssociation turned on since', () => {
  it('asked for (runner.rebuild) appends no rotation for the association configured while it was off; one configured after is rotated', async () => {
    const { dir, clock } = await configuredWhileOff();
    const c = open(dir, clock, ON_ASSOCIATION);
    try {
      await c.settle();
      await c.runner.rebuild('pseudonyms');
      await c.settle();
      expect(await triggers(c)).toEqual(['initial']);
      // Decided live from here on, under the setting of this run.
      await run(c, clock, [cmd.configureAssociation('sa-2', 'cred-1', 'meter-1')]);
      expect(await triggers(c)).toEqual(['initial', 'association']);
      // And a second rebuild finds that one done, adding none.
      await c.runner.rebuild('pseudonyms');
      await c.settle();
      expect(await triggers(c)).toEqual(['initial', 'association']);
    } finally {
      await c.close();
    }
  });

  it('with readmodels.db deleted by hand appends none either; one configured after the start is rotated', async () => {
    const { dir, clock } = await configuredWhileOff();
    for (const file of readdirSync(dir).filter((f) => f.startsWith('readmodels.db'))) rmSync(join(dir, file));
    clock.advance(MINUTE);
    const c = open(dir, clock, ON_ASSOCIATION);
    try {
      await c.settle();
      expect(await triggers(c)).toEqual(['initial']);
      await run(c, clock, [cmd.configureAssociation('sa-2', 'cred-1', 'meter-1')]);
      expect(await triggers(c)).toEqual(['initial', 'association']);
    } finally {
      await c.close();
    }
  });
});
