import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { cmd, system, T0 } from './support/fleet.ts';
import { countingConflicts } from './support/stores.ts';

/**
 * Review 220 finding 1: a command that reads a busy stream as a fact lost every attempt. The node's lane decides its
 * next command in the tick its previous append resolves, so that append always reached the group commit before the
 * reader's retry; committed first, it moved the fact the reader had read, on all seven attempts (409). The group now
 * commits a member that read a stream as a fact ahead of the members that append to that stream: serialisable (the
 * reader decided on the stream as it stood before them), and every check still runs at the commit.
 */
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credence-busy-fact-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const BOOKKEEPING = 300;

/**
 * Node gw with its credential gw-c, and `sa-0` … established on it: what the bookkeeping below records (since machines
 * v8 it reads each association, which must be one established for gw; review 234).
 */
const givenGw = async (engine: Engine): Promise<void> => {
  for (const c of [cmd.createSubscription(), cmd.registerNode('gw'), cmd.enrolNode('gw'), cmd.issueCredential('gw-c', 'gw'), cmd.provisionCredential('gw-c')]) {
    await engine.execute(c);
  }
  for (let i = 0; i < BOOKKEEPING; i++) {
    await engine.execute(cmd.configureAssociation(`sa-${i}`, 'gw-c', 'gw'));
    await engine.execute(cmd.establishAssociation(`sa-${i}`));
  }
};

/** The cascade's bookkeeping on node gw: one system command after another, each awaited (process-manager.ts). */
const bookkeeping = async (engine: Engine, acknowledged: string[]): Promise<void> => {
  for (let i = 0; i < BOOKKEEPING; i++) {
    const outcome = await engine.executeAsSystem(command('recordNodeAssociation', { nodeId: 'gw', associationId: `sa-${i}` }, { actor: system }));
    acknowledged.push(outcome.commandId);
  }
};

/** Every acknowledged command's events stored once, and replay judging every stored event legal. */
const expectStoredOnce = async (store: EventStore, acknowledged: readonly string[]): Promise<void> => {
  const byCommand = new Map<string, number>();
  for await (const e of store.readAll()) {
    const id = String(e.metadata['commandId']);
    byCommand.set(id, (byCommand.get(id) ?? 0) + 1);
  }
  for (const id of acknowledged) expect(byCommand.get(id), id).toBe(1);
  expect((await replayAll(store)).findings).toEqual([]);
};

describe('a command reading a busy stream as a fact (durability full)', () => {
  it('commits while the stream it reads takes 300 awaited appends, without a conflict', async () => {
    const raw = openSqliteStoreInDir(dir);
    const counted = countingConflicts(raw);
    const engine = createEngine({ store: counted.store, clock: new FakeClock(T0) });
    await givenGw(engine);
    const acknowledged: string[] = [];
    const busy = bookkeeping(engine, acknowledged);
    // While the node's lane is busy: its credential reads node-gw as a fact.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const issued = await engine.execute(cmd.issueCredential('cred-2', 'gw'));
    acknowledged.push(issued.commandId);
    await busy;
    expect(counted.conflicts()).toBe(0);
    expect(acknowledged).toHaveLength(BOOKKEEPING + 1);
    await expectStoredOnce(raw, acknowledged);
    await raw.close();
  });

  it('commits every association established on the node while its bookkeeping runs', async () => {
    const raw = openSqliteStoreInDir(dir);
    const engine = createEngine({ store: raw, clock: new FakeClock(T0) });
    await givenGw(engine);
    const ASSOCIATIONS = 150;
    for (let i = 0; i < ASSOCIATIONS; i++) await engine.execute(cmd.configureAssociation(`race-${i}`, 'gw-c', 'gw'));
    const acknowledged: string[] = [];
    const busy = bookkeeping(engine, acknowledged);
    const established = await Promise.allSettled(Array.from({ length: ASSOCIATIONS }, (_, i) => engine.execute(cmd.establishAssociation(`race-${i}`))));
    await busy;
    const refused = established.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
    expect(refused).toEqual([]);
    for (const o of established) if (o.status === 'fulfilled') acknowledged.push(o.value.commandId);
    await expectStoredOnce(raw, acknowledged);
    await raw.close();
  });
});
