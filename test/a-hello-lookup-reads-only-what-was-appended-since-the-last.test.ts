import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { PeekMemo } from '../adapters/engine/peek-memo.ts';
import type { EventStore, ReadStreamOptions } from '../domain/ports/event-store.ts';
import { cmd, T0 } from './support/fleet.ts';

/** The store, counting the records each `readStream` returned and where it started. */
const countingReads = (store: EventStore) => {
  const reads: { streamId: string; fromRevision: bigint; records: number }[] = [];
  const counted: EventStore = Object.create(store, {
    readStream: {
      value: async (streamId: string, options?: ReadStreamOptions) => {
        const records = await store.readStream(streamId, options);
        reads.push({ streamId, fromRevision: options?.fromRevision ?? 0n, records: records.length });
        return records;
      },
    },
  });
  return { counted, reads };
};

/**
 * Review 64 F1: every unauthenticated hello rebuilt its node's and credential's whole streams, which grow with each
 * association, so a stranger repeating a hello for a long-lived node cost a core. A lookup now reads only the records
 * appended since the last lookup of the same entity, and still answers the entity as it is now.
 */
describe('a device hello lookup (engine.peek)', () => {
  it('reads only what was appended since the last lookup, and answers the entity as entity() does', async () => {
    const store = openSqliteStore({ memory: true });
    const { counted, reads } = countingReads(store);
    const engine = createEngine({ store: counted, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('meter-1'));
    await engine.execute(cmd.enrolNode('meter-1'));
    await engine.execute(cmd.issueCredential('cred-1', 'meter-1'));
    const credentialReads = () => reads.filter((r) => r.streamId.includes('cred-1')).splice(0);

    const issued = await engine.peek('credential', 'cred-1');
    reads.length = 0;
    await engine.peek('credential', 'cred-1');
    expect(credentialReads()).toEqual([{ streamId: expect.any(String), fromRevision: 1n, records: 0 }]);

    await engine.execute(cmd.provisionCredential('cred-1'));
    reads.length = 0;
    const peeked = await engine.peek('credential', 'cred-1');
    expect(credentialReads()).toEqual([{ streamId: expect.any(String), fromRevision: 1n, records: 1 }]);
    const { events, ...entity } = await engine.entity('credential', 'cred-1');
    expect(peeked.snapshot.value).not.toEqual(issued.snapshot.value);
    expect(peeked).toEqual({ ...entity, issued: { publicKey: (events[0]!.event.data as { publicKey?: string }).publicKey } });
  });

  it('keeps nothing for an id that does not exist: it is read from the start every time, and found once it exists', async () => {
    const store = openSqliteStore({ memory: true });
    const { counted, reads } = countingReads(store);
    const engine = createEngine({ store: counted, clock: new FakeClock(T0) });
    await engine.peek('node', 'meter-1');
    await engine.peek('node', 'meter-1');
    expect(reads.map((r) => r.fromRevision)).toEqual([0n, 0n]);
    await engine.execute(cmd.registerNode('meter-1'));
    expect(String((await engine.peek('node', 'meter-1')).snapshot.value)).toBe(String((await engine.entity('node', 'meter-1')).snapshot.value));
    expect((await engine.peek('node', 'meter-1')).revision).toBe(0n);
  });

  it('is bounded: past its bytes, the entity looked up least recently is read from the start again', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.registerNode('meter-1'));
    await engine.execute(cmd.registerNode('meter-2'));
    const { counted, reads } = countingReads(store);
    const probe = new PeekMemo(counted, 1 << 20);
    await probe.peek('node', 'meter-1');
    // Room for one node entry, not two (the other's id is as long).
    const memo = new PeekMemo(counted, Math.floor(probe.bytes * 1.5));
    await memo.peek('node', 'meter-1');
    await memo.peek('node', 'meter-1');
    await memo.peek('node', 'meter-2');
    await memo.peek('node', 'meter-1');
    expect(reads.slice(1).map((r) => `${r.streamId.slice(-7)}@${r.fromRevision}`)).toEqual(['meter-1@0', 'meter-1@1', 'meter-2@0', 'meter-1@0']);
  });

  it("is sized from the entity cache's bound: an engine told to keep no snapshots keeps none for hellos either", async () => {
    const store = openSqliteStore({ memory: true });
    const { counted, reads } = countingReads(store);
    const engine = createEngine({ store: counted, clock: new FakeClock(T0), cacheMaxBytes: 0 });
    await engine.execute(cmd.registerNode('meter-1'));
    reads.length = 0;
    await engine.peek('node', 'meter-1');
    await engine.peek('node', 'meter-1');
    expect(reads.map((r) => r.fromRevision)).toEqual([0n, 0n]);
  });
});
