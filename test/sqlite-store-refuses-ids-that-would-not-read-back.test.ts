import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { newEvent } from './store-conformance/helpers.ts';

/*
 * Found in review 23: the embedded store refused a lone surrogate in the stream ids of `readStreams` (its rows could
 * not be told apart) but took one everywhere else. SQLite stores such a string as bytes that read back as U+FFFD, so
 * `device-\uD800` was read back as `device-\uFFFD\uFFFD\uFFFD` and an append to the id as read went to another
 * stream. Every id the store takes is now held to well-formed Unicode, and a refused append writes nothing.
 */
const LONE = 'device-\uD800';

describe('the embedded store refuses ids that would not read back as written', () => {
  it.each([
    ['streamId', (s: ReturnType<typeof openSqliteStore>) => s.appendToStream(LONE, [newEvent('A')], { expectedRevision: ExpectedRevision.noStream })],
    ['events[0].id', (s: ReturnType<typeof openSqliteStore>) => s.appendToStream('device-a', [{ ...newEvent('A'), id: `id-\uDC00` }], { expectedRevision: ExpectedRevision.noStream })],
    ['events[0].type', (s: ReturnType<typeof openSqliteStore>) => s.appendToStream('device-a', [newEvent('A\uD83D')], { expectedRevision: ExpectedRevision.noStream })],
    ['options.commandId', (s: ReturnType<typeof openSqliteStore>) => s.appendToStream('device-a', [newEvent('A')], { expectedRevision: ExpectedRevision.noStream, commandId: 'cmd-\uD800' })],
    [
      'options.facts[0].streamId',
      (s: ReturnType<typeof openSqliteStore>) => s.appendToStream('device-a', [newEvent('A')], { expectedRevision: ExpectedRevision.noStream, facts: [{ streamId: LONE, revision: undefined }] }),
    ],
  ])('refuses an append whose %s holds a lone surrogate, and writes nothing', async (argument, append) => {
    const store = openSqliteStore({ memory: true });
    try {
      await expect(append(store)).rejects.toThrow(`${argument}: must be well-formed Unicode (no lone surrogate)`);
      expect(await store.headPosition()).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('refuses such an id on reads of one stream or one command', async () => {
    const store = openSqliteStore({ memory: true });
    try {
      await store.appendToStream('device-\uFFFD\uFFFD\uFFFD', [newEvent('A')], { expectedRevision: ExpectedRevision.noStream, commandId: 'cmd-1' });
      await expect(store.readStream(LONE)).rejects.toThrow('streamId: must be well-formed Unicode');
      await expect(store.readCommand(LONE, 'cmd-1')).rejects.toThrow('streamId: must be well-formed Unicode');
      await expect(store.readCommand('device-\uFFFD\uFFFD\uFFFD', 'cmd-\uD800')).rejects.toThrow('commandId: must be well-formed Unicode');
      // Well-formed ids, astral characters included, read back as written.
      const astral = 'device-\uD83D\uDE00';
      await store.appendToStream(astral, [newEvent('A')], { expectedRevision: ExpectedRevision.noStream });
      expect((await store.readStream(astral)).map((e) => e.streamId)).toEqual([astral]);
    } finally {
      await store.close();
    }
  });
});
