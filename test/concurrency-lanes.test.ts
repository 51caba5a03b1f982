import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { auditor, cmd, operator, T0 } from './support/fleet.ts';
import { countingConflicts, logicStoreInDir } from './support/stores.ts';

/**
 * Issue 15 item 2: the engine decides commands for different entities concurrently and one stream's commands one
 * at a time, so concurrent callers of one process never conflict with each other; every decision still holds
 * against the facts it read when it commits.
 */
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credence-lanes-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const HUBS = 4;
const pseudonym = (h: number) => `p-${'a'.repeat(25)}${String.fromCharCode(97 + h)}`;

/** Hubs: a node with a provisioned credential and an active pseudonym, shared by every caller below. */
const prepareHubs = async (engine: Engine) => {
  await engine.execute(cmd.createSubscription());
  for (let h = 0; h < HUBS; h++) {
    for (const c of [
      cmd.registerNode(`hub-${h}`),
      cmd.enrolNode(`hub-${h}`),
      cmd.issueCredential(`hub-${h}-c`, `hub-${h}`),
      cmd.provisionCredential(`hub-${h}-c`),
      command('rotatePseudonym', { pseudonym: pseudonym(h), nodeId: `hub-${h}`, epoch: 1, trigger: 'initial' }, { actor: operator }),
    ]) {
      await engine.execute(c);
    }
  }
};

const resolve = (h: number, reason: string) => command('resolvePseudonym', { pseudonym: pseudonym(h), reason }, { actor: auditor });

const open = () => {
  const raw = logicStoreInDir(dir);
  const counted = countingConflicts(raw);
  return { raw, counted, engine: createEngine({ store: counted.store, clock: new FakeClock(T0) }) };
};

const resolutionsOf = async (engine: Engine, h: number): Promise<number> =>
  Number((await engine.entity('pseudonym', pseudonym(h))).snapshot.context.resolutions);

describe('concurrent callers through one engine', () => {
  it('64 callers on overlapping entities: no conflict between them, no lost update, no stored refusal', async () => {
    const { raw, counted, engine } = open();
    await prepareHubs(engine);
    const acknowledged: string[] = [];
    const callers = Array.from({ length: 64 }, async (_, caller) => {
      for (let round = 0; round < 5; round++) {
        const h = (caller + round) % HUBS;
        const associationId = `sa-${caller}-${round}`;
        // Both association commands read the hub's node and credential as facts; the resolution writes the hub's
        // pseudonym stream, which sixteen callers write at once.
        for (const c of [
          cmd.configureAssociation(associationId, `hub-${h}-c`, `hub-${h}`),
          cmd.establishAssociation(associationId),
          resolve(h, `audit ${caller}-${round}`),
        ]) {
          acknowledged.push((await engine.execute(c)).commandId);
        }
      }
    });
    await Promise.all(callers);
    expect(counted.conflicts()).toBe(0);
    expect(acknowledged).toHaveLength(64 * 5 * 3);
    // No lost update: every resolution acknowledged is counted on its stream.
    let total = 0;
    for (let h = 0; h < HUBS; h++) total += await resolutionsOf(engine, h);
    expect(total).toBe(64 * 5);
    const stored = new Set<string>();
    for await (const e of raw.readAll()) stored.add(String(e.metadata['commandId']));
    for (const id of acknowledged) expect(stored.has(id), id).toBe(true);
    expect((await replayAll(raw)).findings).toEqual([]);
    await raw.close();
  });

  it('a fact changed by a concurrent caller: the decisions on it still hold at commit (replay finds no stored refusal)', async () => {
    const { raw, engine } = open();
    await prepareHubs(engine);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, async (_, i) => {
        if (i === 20) return engine.execute(cmd.revokeCredential('hub-0-c'));
        await engine.execute(cmd.configureAssociation(`race-${i}`, 'hub-0-c', 'hub-0'));
        return engine.execute(cmd.establishAssociation(`race-${i}`));
      }),
    );
    for (const o of outcomes) {
      if (o.status === 'rejected') expect(isCredenceError(o.reason, 'illegal_transition') || isCredenceError(o.reason, 'concurrency_conflict'), String(o.reason)).toBe(true);
    }
    expect(outcomes[20]?.status).toBe('fulfilled');
    expect((await replayAll(raw)).findings).toEqual([]);
    // After the revocation is acknowledged, no association on that credential can be established.
    await engine.execute(cmd.configureAssociation('after', 'hub-0-c', 'hub-0')).catch(() => undefined);
    await expect(engine.execute(cmd.establishAssociation('after'))).rejects.toSatisfy((e) => isCredenceError(e));
    await raw.close();
  });

  it("one stream's commands run one at a time in arrival order; a refused one does not hold up the next", async () => {
    const { raw, engine } = open();
    await prepareHubs(engine);
    const reasons = Array.from({ length: 30 }, (_, i) => `ordered ${i}`);
    const results = await Promise.allSettled([
      ...reasons.slice(0, 15).map((r) => engine.execute(resolve(1, r))),
      // Refused (no such pseudonym), between the others.
      engine.execute(command('resolvePseudonym', { pseudonym: `p-${'b'.repeat(26)}`, reason: 'unknown' }, { actor: auditor })),
      ...reasons.slice(15).map((r) => engine.execute(resolve(1, r))),
    ]);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    const stored = (await raw.readStream(`pseudonym-${pseudonym(1)}`)).filter((e) => e.type === 'PseudonymResolved');
    expect(stored.map((e) => e.data['reason'])).toEqual(reasons);
    await raw.close();
  });

  it('commands for other streams proceed while one stream waits; that stream queues behind its command', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    const store: EventStore = logicStoreInDir(dir);
    // The request verifier runs inside the stream's lane, at the instant the command is decided: hold one there.
    const engine = createEngine({
      store,
      clock: new FakeClock(T0),
      verifyRequest: async (c) => {
        if (c.metadata.correlationId === 'hold') await held;
      },
    });
    await prepareHubs(engine);
    const order: string[] = [];
    const holding = command('resolvePseudonym', { pseudonym: pseudonym(2), reason: 'held' }, { actor: auditor, correlationId: 'hold' });
    const first = engine.execute(holding).then(() => order.push('held'));
    const sameStream = engine.execute(resolve(2, 'queued')).then(() => order.push('queued'));
    await engine.execute(resolve(3, 'other stream'));
    order.push('other');
    expect(order).toEqual(['other']);
    release();
    await Promise.all([first, sameStream]);
    expect(order).toEqual(['other', 'held', 'queued']);
    await store.close();
  });
});
