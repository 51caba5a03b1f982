import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { newEvent } from './store-conformance/helpers.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 23 (left then): appends queued in one turn beyond the largest group were all committed in that one turn, group
 * after group, so nothing else (an HTTP answer, an SSE heartbeat, a timer) ran until the last group's sync. Each turn
 * now commits one group; close still commits every queued append.
 */
const folder = temporaryFolders('credence-group-turns-');
const append = (store: ReturnType<typeof openSqliteStoreInDir>, i: number) =>
  store.appendToStream(`s-${i}`, [newEvent('E', { i })], { expectedRevision: ExpectedRevision.noStream, commandId: `c-${i}` });

describe('the embedded store committing more than one group queued at once', () => {
  it('commits one group per turn of the event loop, in the order the appends came', async () => {
    const store = openSqliteStoreInDir(join(folder(), 'data'), { durability: 'normal', maxGroupSize: 4 });
    const before = store.groupStats.groups;
    const appended = Array.from({ length: 10 }, (_, i) => append(store, i));
    // Queued after the store's own turn: it runs once the first group is committed, before the second.
    const groupsAtNextTurn = new Promise<number>((resolve) => setImmediate(() => resolve(store.groupStats.groups - before)));
    expect(await groupsAtNextTurn).toBe(1);
    const positions = (await Promise.all(appended)).map((r) => r.position);
    expect(store.groupStats.groups - before).toBe(3);
    expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : 1)));
    await store.close();
  });

  it('still commits and acknowledges every queued append when it closes', async () => {
    const dir = join(folder(), 'data');
    const store = openSqliteStoreInDir(dir, { durability: 'normal', maxGroupSize: 4 });
    const appended = Array.from({ length: 10 }, (_, i) => append(store, i));
    await store.close();
    expect((await Promise.all(appended)).length).toBe(10);
    const reopened = openSqliteStoreInDir(dir);
    const streams: string[] = [];
    for await (const e of reopened.readAll()) streams.push(e.streamId);
    expect(streams).toEqual(Array.from({ length: 10 }, (_, i) => `s-${i}`));
    await reopened.close();
  });
});
