import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive, type Credence } from '../adapters/runtime/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { copyEventStore, moveTransparencyLogAside } from './support/restored-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * The service runs the runner's checks (another log, other rules: adapters/http/read-model-rebuilds.ts) before
 * `live.start()` counts each component's start backlog. A library, a bench or a test calling startLive alone had the
 * backlogs counted before those checks ran (inside the first passes): a read model the checks then reset to position
 * 0 was counted from its old checkpoint (nothing behind, or only what followed it), so its status and lag said it was
 * (nearly) caught up all through its rebuild from the whole log. The start now runs the checks before it counts.
 */

const folder = temporaryFolders('credence-live-start-checks-');
const clock = () => new FakeClock(T0);
const writeNodes = async (c: Credence, from: number, to: number): Promise<void> => {
  for (let i = from; i < to; i++) {
    await c.engine.execute(cmd.registerNode(`meter-${i}`));
    await c.engine.execute(cmd.enrolNode(`meter-${i}`));
  }
};
const settledAndClosed = async (c: Credence): Promise<void> => {
  await c.settle();
  await c.close();
};

/** A key nobody signs with: only its presence in the policy matters (the audit trail's rules change). */
const policy = {
  audience: 'https://credence.test',
  require: 'all' as const,
  keys: [{ actorId: operator.id, roles: ['operator' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n))).publicKey) }],
};

/** Its audit trail built under no signing policy, then opened as the service opens it under one: rebuilt from 0. */
const builtUnderOtherRules = async (): Promise<Credence> => {
  const dir = folder();
  const c = openCredence({ location: { dir }, clock: clock() });
  await c.engine.execute(cmd.createSubscription());
  await writeNodes(c, 0, 6);
  await settledAndClosed(c);
  return openCredence({ location: { dir }, clock: clock(), signing: policy, onReadModelRulesChanged: 'rebuild' });
};

/**
 * Its read models built from a log the event store was then restored over (an older backup), written to since: the
 * audit trail's checkpoint is within the restored log but names an event it does not hold.
 */
const builtFromAnotherLog = async (): Promise<Credence> => {
  const dir = folder();
  const backup = folder();
  let c = openCredence({ location: { dir }, clock: clock() });
  await c.engine.execute(cmd.createSubscription());
  await writeNodes(c, 0, 2);
  await settledAndClosed(c);
  copyEventStore(dir, backup);
  c = openCredence({ location: { dir }, clock: clock() });
  await writeNodes(c, 2, 4);
  await settledAndClosed(c);
  copyEventStore(backup, dir);
  // The transparency log has logged the lost events and would stop (README): moved aside.
  moveTransparencyLogAside(dir, backup);
  c = openCredence({ location: { dir }, clock: clock() });
  // Past the old checkpoint, without projecting: the read models' checkpoints stay those of the other log.
  await writeNodes(c, 10, 20);
  await c.close();
  return openCredence({ location: { dir }, clock: clock() });
};

const storedEvents = async (c: Credence): Promise<number> => {
  let n = 0;
  for await (const _r of c.store.readAll()) n++;
  return n;
};

/** The audit trail's first pass held until `release`: `rebuilding` settles once it has begun (the backlogs counted). */
const auditPassHeld = (c: Credence): { readonly rebuilding: Promise<void>; readonly release: () => void } => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let reached!: () => void;
  const rebuilding = new Promise<void>((resolve) => (reached = resolve));
  const catchUp = c.runner.catchUp.bind(c.runner);
  c.runner.catchUp = async (name) => {
    if (name === 'audit') {
      reached();
      await held;
    }
    return catchUp(name);
  };
  return { rebuilding, release };
};

describe('startLive alone, on a read model its checks rebuild from position 0', () => {
  it.each([
    ['built under other rules', builtUnderOtherRules],
    ['built from another log', builtFromAnotherLog],
  ])('says at start that the whole log is behind: %s', async (_, open) => {
    // Given a folder whose audit trail the runner's checks will reset, and the audit trail's rebuild held
    const c = await open();
    const { rebuilding, release } = auditPassHeld(c);
    const live = startLive(c, { tickMs: 3_600_000 });
    try {
      // When the live runtime starts, nothing else having run the checks, and the audit trail's first pass begins
      const starting = live.start();
      await rebuilding;

      // Then its status and lag say every stored event is behind (the audit trail reads every type), from no checkpoint
      const total = await storedEvents(c);
      expect(total).toBeGreaterThan(10);
      expect((await live.status()).find((s) => s.name === 'audit')).toMatchObject({ checkpoint: undefined, eventsBehind: total });
      expect(live.lag(['audit']).eventsBehind).toBe(total);

      // And once its rebuild has read the log, it is caught up, every event audited
      release();
      await starting;
      expect(live.lag(['audit']).eventsBehind).toBe(0);
      expect(c.readModels.prepare('SELECT count(*) AS n FROM audit_events').get()).toEqual({ n: BigInt(total) });
    } finally {
      release();
      await live.stop();
      await c.close();
    }
  }, 60_000);

  it('after the checks the service runs first, checks nothing again and says the same', async () => {
    // Given a folder whose audit trail is of another log, checked as the service checks it before the start
    // (read-model-rebuilds.ts), and the records read at a position counted: the log check reads one per checkpoint
    const c = await builtFromAnotherLog();
    const recordReads: bigint[] = [];
    const recordAt = c.store.recordAt!.bind(c.store);
    c.store.recordAt = (position) => {
      recordReads.push(position);
      return recordAt(position);
    };
    expect((await c.runner.checkLog()).map((o) => o.name)).toContain('audit');
    await c.runner.checkRules();
    const checked = new Set(recordReads.splice(0));
    expect(checked.size).toBeGreaterThan(0);
    const { rebuilding, release } = auditPassHeld(c);
    const live = startLive(c, { tickMs: 3_600_000 });
    try {
      // When the live runtime starts, and the audit trail's first pass begins
      const starting = live.start();
      await rebuilding;

      // Then the audit trail is counted the whole log behind, as without those checks
      expect(live.lag(['audit']).eventsBehind).toBe(await storedEvents(c));
      release();
      await starting;
      // And no checkpoint the service checked was looked up in the log again
      expect(recordReads.filter((p) => checked.has(p))).toEqual([]);
      expect(live.lag(['audit']).eventsBehind).toBe(0);
    } finally {
      release();
      await live.stop();
      await c.close();
    }
  }, 60_000);
});
