import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import type { SqliteEventStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { cmd, T0 } from './support/fleet.ts';
import { countingConflicts, logicStoreInDir } from './support/stores.ts';

/**
 * Issue 15: on a store whose fact checks write nothing (SQLite), the engine decides a first attempt on the facts it
 * cached instead of reading every fact stream again. Engine A's cache cannot see what engine B (another process,
 * or any writer that bypasses A) appended; these tests prove that such staleness neither stores a decision on a
 * moved fact (the append's fact check refuses it and the retry reads) nor refuses a command that the stored facts
 * allow (a refusal on cached entries is checked against the store and decided again).
 */
let dir: string;
let raw: SqliteEventStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credence-cached-facts-'));
  raw = logicStoreInDir(dir);
});
afterEach(async () => {
  await raw.close();
  rmSync(dir, { recursive: true, force: true });
});

const engineOn = (store: EventStore): Engine => createEngine({ store, clock: new FakeClock(T0) });

const run = async (engine: Engine, commands: readonly unknown[]) => {
  for (const c of commands) await engine.execute(c);
};

const streamLength = async (streamId: string) => (await raw.readStream(streamId)).length;

describe('facts from the cache on the first attempt', () => {
  it('a credential revoked behind the cache: the append refuses the stale fact, the retry reads it and the command is refused', async () => {
    const counted = countingConflicts(raw);
    const a = engineOn(counted.store);
    const b = engineOn(raw);
    await run(a, [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential()]);
    await a.execute(cmd.configureAssociation('sa-0'));
    await b.execute(cmd.revokeCredential());

    const refused = await a.execute(cmd.configureAssociation('sa-1')).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isCredenceError(refused)).toBe(true);
    expect(isCredenceError(refused, 'concurrency_conflict')).toBe(false);
    expect(String((refused as Error).message)).toMatch(/credentialUsable/);
    // The first attempt decided on the cached, provisioned credential; the store refused it at the fact check.
    expect(counted.conflicts()).toBe(1);
    expect(await streamLength('association-sa-1')).toBe(0);
  });

  it('a credential provisioned behind the cache: the refusal on the cached fact is checked, and the command is accepted', async () => {
    const counted = countingConflicts(raw);
    const a = engineOn(counted.store);
    const b = engineOn(raw);
    await run(a, [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential()]);
    // A caches the credential as issued, not yet usable, while deciding (and refusing) this one.
    await expect(a.execute(cmd.configureAssociation('sa-0'))).rejects.toThrow(/credentialUsable/);
    await b.execute(cmd.provisionCredential());

    const outcome = await a.execute(cmd.configureAssociation('sa-1'));
    expect(outcome.deduplicated).toBe(false);
    expect(await streamLength('association-sa-1')).toBe(1);
    expect(await streamLength('association-sa-0')).toBe(0);
    expect(counted.conflicts()).toBe(0);
  });

  it('on a store that does not say its fact checks write nothing (EventStoreDB claims), every fact is read again', async () => {
    const counted = countingConflicts(raw);
    // The same store seen through the port without the capability: what the engine sees of EventStoreDB.
    const plain = Object.create(counted.store, { factChecksWriteNothing: { value: undefined } }) as EventStore;
    const a = engineOn(plain);
    const b = engineOn(raw);
    await run(a, [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential()]);
    await a.execute(cmd.configureAssociation('sa-0'));
    await b.execute(cmd.revokeCredential());

    await expect(a.execute(cmd.configureAssociation('sa-1'))).rejects.toThrow(/credentialUsable/);
    expect(counted.conflicts()).toBe(0);
  });
});
