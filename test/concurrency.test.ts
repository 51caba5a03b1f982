import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { cmd, T0 } from './support/fleet.ts';

/**
 * Issue 10 item 1 and its concurrency suite: many writers on overlapping entities, through one engine and through
 * two engines on one file (two SQLite connections). What must hold afterwards: no stored refusal (replay finds
 * nothing), no lost update (every acknowledged command's events are stored), no duplicate (each command's events
 * are stored once).
 */
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credence-concurrency-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const expectedRefusal = (error: unknown): boolean =>
  isCredenceError(error, 'illegal_transition') || isCredenceError(error, 'not_found') || isCredenceError(error, 'concurrency_conflict');

/** A node with a provisioned credential and a configured association per index. */
const prepare = async (engine: Engine, count: number): Promise<void> => {
  await engine.execute(cmd.createSubscription());
  for (let i = 0; i < count; i++) {
    for (const c of [
      cmd.registerNode(`meter-${i}`),
      cmd.enrolNode(`meter-${i}`),
      cmd.issueCredential(`cred-${i}`, `meter-${i}`),
      cmd.provisionCredential(`cred-${i}`),
      cmd.configureAssociation(`sa-${i}`, `cred-${i}`, `meter-${i}`),
    ]) {
      await engine.execute(c);
    }
  }
};

/** Every acknowledged command's events are stored exactly once, at the positions its outcome gave. */
const checkStored = async (store: EventStore, acknowledged: readonly { commandId: string; positions: readonly bigint[] }[]) => {
  const byCommand = new Map<string, bigint[]>();
  for await (const record of store.readAll()) {
    const commandId = String(record.metadata['commandId']);
    byCommand.set(commandId, [...(byCommand.get(commandId) ?? []), record.position]);
  }
  for (const { commandId, positions } of acknowledged) expect(byCommand.get(commandId), commandId).toEqual(positions);
  expect((await replayAll(store)).findings).toEqual([]);
};

const race = async (engines: readonly Engine[], rounds: number) => {
  const acknowledged: { commandId: string; positions: bigint[] }[] = [];
  const run = async (engine: Engine, input: unknown) => {
    try {
      const outcome = await engine.execute(input);
      acknowledged.push({ commandId: outcome.commandId, positions: outcome.events.map((e) => e.position) });
    } catch (error) {
      if (!expectedRefusal(error)) throw error;
    }
  };
  for (let i = 0; i < rounds; i++) {
    const pick = (k: number) => engines[(i + k) % engines.length]!;
    // Overlapping: the association reads the credential; the credential and the association are revoked meanwhile.
    await Promise.all([
      run(pick(0), { ...cmd.establishAssociation(`sa-${i}`), metadata: { ...cmd.establishAssociation().metadata, commandId: crypto.randomUUID() } }),
      run(pick(1), { ...cmd.revokeCredential(`cred-${i}`), metadata: { ...cmd.revokeCredential().metadata, commandId: crypto.randomUUID() } }),
      run(pick(i % 2), { ...cmd.revokeAssociation(`sa-${(i + 1) % rounds}`), metadata: { ...cmd.revokeAssociation().metadata, commandId: crypto.randomUUID() } }),
    ]);
  }
  return acknowledged;
};

describe('concurrent commands on overlapping entities (regression: an association stored against a credential revoked meanwhile)', () => {
  it('one engine: every acknowledged command stored once, and replay finds no stored refusal', async () => {
    const store = openSqliteStoreInDir(dir);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await prepare(engine, 20);
    await checkStored(store, await race([engine], 20));
    await store.close();
  });

  it('two engines on one file: the same, across two connections', async () => {
    const [a, b] = [openSqliteStoreInDir(dir), openSqliteStoreInDir(dir)];
    const clock = new FakeClock(T0);
    const engines = [createEngine({ store: a, clock }), createEngine({ store: b, clock })];
    await prepare(engines[0]!, 40);
    await checkStored(a, await race(engines, 40));
    await Promise.all([a.close(), b.close()]);
  });
});
