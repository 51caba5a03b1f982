import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteEventStore } from '../adapters/driven/store/index.ts';
import { inCommitOrder, type StreamAccess } from '../adapters/driven/store/sqlite/commit-order.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { newEvent } from './store-conformance/helpers.ts';

/**
 * Review 220 finding 1, at the store: inside one group, an append that read stream S as a fact commits ahead of the
 * group's appends to S (a serial order in which its decision holds); appends to one stream keep their order; where
 * the rules form a cycle, submission order. Every check still runs at the commit.
 */
let store: SqliteEventStore;
afterEach(async () => {
  await store.close();
});

const seeded = async (...streams: string[]): Promise<SqliteEventStore> => {
  const s = openSqliteStore({ memory: true });
  for (const streamId of streams) await s.appendToStream(streamId, [newEvent('Seeded')], { expectedRevision: ExpectedRevision.noStream });
  return s;
};

describe('the order of a group commit', () => {
  it('commits a reader of node-gw submitted after an append to node-gw first, so both commit, positions in commit order', async () => {
    store = await seeded('node-gw');
    const groups = store.groupStats.groups;
    const [writer, reader] = await Promise.all([
      store.appendToStream('node-gw', [newEvent('NodeAssociated')], { expectedRevision: ExpectedRevision.after(0n) }),
      store.appendToStream('credential-c2', [newEvent('CredentialIssued')], { expectedRevision: ExpectedRevision.noStream, facts: [{ streamId: 'node-gw', revision: 0n }] }),
    ]);
    expect(store.groupStats.groups - groups).toBe(1);
    expect(reader.position).toBeLessThan(writer.position);
    expect(writer.nextExpectedRevision).toBe(1n);
  });

  it('still refuses a reader whose fact moved before its group', async () => {
    store = await seeded('node-gw');
    await store.appendToStream('node-gw', [newEvent('NodeAssociated')], { expectedRevision: ExpectedRevision.after(0n) });
    const [writer, reader] = await Promise.allSettled([
      store.appendToStream('node-gw', [newEvent('NodeAssociated')], { expectedRevision: ExpectedRevision.after(1n) }),
      store.appendToStream('credential-c2', [newEvent('CredentialIssued')], { expectedRevision: ExpectedRevision.noStream, facts: [{ streamId: 'node-gw', revision: 0n }] }),
    ]);
    expect(writer.status).toBe('fulfilled');
    expect(reader.status === 'rejected' && isCredenceError(reader.reason, 'concurrency_conflict')).toBe(true);
  });

  it('keeps submission order in a cycle: each read what the other writes, the first submitted commits', async () => {
    store = await seeded('a', 'b');
    const [first, second] = await Promise.allSettled([
      store.appendToStream('a', [newEvent('A')], { expectedRevision: ExpectedRevision.after(0n), facts: [{ streamId: 'b', revision: 0n }] }),
      store.appendToStream('b', [newEvent('B')], { expectedRevision: ExpectedRevision.after(0n), facts: [{ streamId: 'a', revision: 0n }] }),
    ]);
    expect(first.status).toBe('fulfilled');
    expect(second.status === 'rejected' && isCredenceError(second.reason, 'concurrency_conflict')).toBe(true);
  });

  it('keeps the order of pipelined appends to one stream, with a reader of it moved ahead of them all', async () => {
    store = await seeded('node-gw');
    const results = await Promise.all([
      store.appendToStream('node-gw', [newEvent('N1')], { expectedRevision: ExpectedRevision.after(0n) }),
      store.appendToStream('node-gw', [newEvent('N2')], { expectedRevision: ExpectedRevision.after(1n) }),
      store.appendToStream('association-x', [newEvent('X')], { expectedRevision: ExpectedRevision.noStream, facts: [{ streamId: 'node-gw', revision: 0n }] }),
    ]);
    const [n1, n2, x] = results.map((r) => r.position);
    expect(x! < n1! && n1! < n2!).toBe(true);
  });
});

describe('inCommitOrder', () => {
  const member = (streamId: string, ...facts: string[]): { access: StreamAccess } => ({ access: { streamId, facts: facts.map((f) => ({ streamId: f })) } });

  it('leaves a group whose readers come before every writer of their facts as it is (the same array)', () => {
    const group = [member('x', 's'), member('s'), member('t')];
    expect(inCommitOrder(group)).toBe(group);
    const none = [member('s'), member('s')];
    expect(inCommitOrder(none)).toBe(none);
  });

  it('orders by the rules, a cycle in submission order, and otherwise by submission', () => {
    // 0 writes s; 1 and 2 read each other's stream (a cycle), 1 reads s too; 3 reads t, which 1 writes.
    const group = [member('s'), member('t', 's', 'u'), member('u', 't'), member('v', 't')];
    // 3 before 1 (it read t); 1 before 2 (the cycle, in submission order) and before 0 (it read s); then 0 before 2.
    expect(inCommitOrder(group).map((m) => group.indexOf(m))).toEqual([3, 1, 0, 2]);
  });

  it('orders a large group with many readers of one busy stream in linear-ish time', () => {
    const group = Array.from({ length: 4096 }, (_, i) => (i % 2 === 0 ? member('node-gw') : member(`association-${i}`, 'node-gw')));
    const started = performance.now();
    const ordered = inCommitOrder(group);
    expect(performance.now() - started).toBeLessThan(200);
    const writers = ordered.flatMap((m, i) => (m.access.streamId === 'node-gw' ? [i] : []));
    expect(writers[0]).toBe(2048);
    expect(ordered.filter((m) => m.access.streamId === 'node-gw')).toEqual(group.filter((m) => m.access.streamId === 'node-gw'));
  });
});
