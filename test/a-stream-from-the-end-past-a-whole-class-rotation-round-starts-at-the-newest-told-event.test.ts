import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { ExpectedRevision, type EventStore, type ReadAllOptions, type RecordedEvent } from '../domain/ports/event-store.ts';
import { dataDirs } from './replay.fixtures.ts';
import { canonicalTagger } from '../adapters/http/sse/event-id.ts';
import { toldStartAtOrBelow } from '../adapters/http/sse/told-start.ts';

/*
 * Review 334: interval rotations come due at shared boundaries (a whole class of pseudonyms at once), so a class of
 * more than ~16,000 nodes writes more rotations in a row, withheld from operators and auditors, than the stream's
 * `from=end` looked back over (16,384 records). Past that bound it fell back to the bare head, the unchecked resume
 * point review 241 removed. It now finds the newest told event below through the store's index of event types, in
 * a bounded number of reads, and starts there, named with its tag.
 */

const ROTATIONS = 20_000;

/**
 * A gapless store: a few told events, then `rotations` withheld rotations. Reads as the embedded store reads: in
 * position order after `afterPosition`, only the `eventTypes` asked for, at most `maxCount`.
 */
const logWithARotationRound = (rotations: number) => {
  const told = [
    { type: 'NodeRegistered', streamId: 'node-meter-1' },
    { type: 'PseudonymRotated', streamId: 'pseudonym-p-0' },
    { type: 'CredentialIssued', streamId: 'credential-cred-1' },
  ];
  const records: RecordedEvent[] = [...told, ...Array.from({ length: rotations }, (_, i) => ({ type: 'PseudonymRotated', streamId: `pseudonym-p-${i + 1}` }))].map(
    (r, i) => ({ ...r, position: BigInt(i + 1), id: `event-${i + 1}`, revision: 0n, data: {}, metadata: {} }) as RecordedEvent,
  );
  const store = {
    gapless: true,
    async *readAll(options: ReadAllOptions = {}) {
      const types = options.filter?.eventTypes;
      let left = options.maxCount ?? Infinity;
      for (const record of records.slice(Number(options.afterPosition ?? 0n))) {
        if (left <= 0) return;
        if (types !== undefined && !types.includes(record.type)) continue;
        left--;
        yield record;
      }
    },
  } as unknown as EventStore;
  return { store, head: BigInt(records.length), newestTold: records[2]! };
};

const tells = async (record: RecordedEvent): Promise<boolean> => !record.streamId.startsWith('pseudonym-');

describe('a canonical stream from the end, just after a rotation round longer than the look back', () => {
  it('starts at the newest told event before the round, named with its tag, not at the bare head', async () => {
    const { store, head, newestTold } = logWithARotationRound(ROTATIONS);
    const start = await toldStartAtOrBelow(store, head, tells, canonicalTagger);
    expect(start).toEqual({ from: newestTold.position, id: `${newestTold.position}~${canonicalTagger(newestTold.id)}` });
  });

  it('names 0 where nothing up to the head is told, however long the round', async () => {
    const { store, head } = logWithARotationRound(ROTATIONS);
    const none = async (): Promise<boolean> => false;
    expect(await toldStartAtOrBelow(store, head, none, canonicalTagger)).toEqual({ from: 0n, id: '0' });
  });
});

describe('on the embedded store', () => {
  const dir = dataDirs('credence-told-start-');

  it('finds it through the index of event types, past a round longer than the look back', async () => {
    const store = openSqliteStoreInDir(dir());
    try {
      const event = (type: string, i: number) => ({ id: crypto.randomUUID(), type, data: { n: i }, metadata: { n: i } });
      await store.appendToStream('node-meter-1', [event('NodeRegistered', 0)], { expectedRevision: ExpectedRevision.after(undefined) });
      await store.appendToStream('pseudonym-p-1', Array.from({ length: ROTATIONS }, (_, i) => event('PseudonymRotated', i)), { expectedRevision: ExpectedRevision.after(undefined) });
      const head = (await store.headPosition())!;
      expect(head).toBe(BigInt(ROTATIONS + 1));
      const [registered] = await store.readStream('node-meter-1');
      expect(await toldStartAtOrBelow(store, head, tells, canonicalTagger)).toEqual({ from: registered!.position, id: `${registered!.position}~${canonicalTagger(registered!.id)}` });
    } finally {
      await store.close();
    }
  }, 30_000);
});
