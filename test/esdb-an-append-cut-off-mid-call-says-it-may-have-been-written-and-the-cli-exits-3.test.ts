/**
 * Review 151, finding 2: an append whose connection was lost mid-call other than by the client's own deadline
 * (CANCELLED, UNAVAILABLE, UNKNOWN) said nothing of its outcome, though its events may have been stored, and the CLI
 * exited 1 (refused or failed) for it. Every transient failure of an append now says that the events may have been
 * written and to retry with the same command id, and the CLI exits 3 for every transient event store failure (README,
 * "CLI exit codes").
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventStoreDbError, openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { EXIT, runAction } from '../bin/program.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { capture } from './support/cli.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const { startStandIn, hold } = standInTeardown();

/** Appends to a node stream whose reply the stand-in holds back, and stops the stand-in once the event is stored. */
const appendCutOff = async (options: { commandId?: string; facts?: boolean }) => {
  const running = await startStandIn({ appendReplyDelayMs: (streamId) => (streamId.startsWith('node-') ? 60_000 : 0) });
  const store = hold(openEventStoreDbStore(running.connectionString));
  const stream = `node-${randomUUID()}`;
  const stored = new Promise<void>((resolve) => {
    const stop = running.log.onAppend(() => {
      if (running.log.all.at(-1)?.streamId !== stream) return;
      stop();
      resolve();
    });
  });
  const event = { id: randomUUID(), type: 'NodeEnrolled', data: {}, metadata: {} };
  const append = store.appendToStream(stream, [event], {
    expectedRevision: ExpectedRevision.noStream,
    ...(options.commandId !== undefined ? { commandId: options.commandId } : {}),
    ...(options.facts === true ? { facts: [{ streamId: `subscription-${randomUUID()}`, revision: undefined }] } : {}),
  });
  await stored;
  await running.stop();
  const error = await append.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(EventStoreDbError);
  expect(running.log.stream(stream)?.map((e) => e.id)).toEqual([event.id]);
  return { error: error as EventStoreDbError, stream };
};

describe('an append whose connection is lost after its events were stored', () => {
  it.each([
    ['without a command id', {}],
    ['with a command id', { commandId: randomUUID() }],
    ['with a command id and a fact', { commandId: randomUUID(), facts: true }],
  ])('%s: transient, and says the events may have been written and to retry with the same command id', async (_label, options) => {
    const { error, stream } = await appendCutOff(options);
    expect(error.transient).toBe(true);
    expect(error.message).toMatch(new RegExp(`^EventStoreDB append to ${stream} failed: .*; the events may have been written: retry with the same command id$`));
    expect(error.appendOutcome).toBe('may_be_written');
  });

  it('is exit 3 in the CLI, with what to do, as any transient failure of the event store', async () => {
    const { error } = await appendCutOff({ commandId: randomUUID() });
    const c = capture();
    expect(await runAction(c.io, () => Promise.reject(error))).toBe(EXIT.unreachable);
    expect(c.err[0]).toBe(`error: ${error.message}`);
    expect(c.err.slice(1)).toEqual([expect.stringContaining('send the command again, with the same --command-id')]);
    const notReached = new EventStoreDbError('EventStoreDB read of node-a failed: 1 CANCELLED: Call cancelled', true);
    expect(await runAction(capture().io, () => Promise.reject(notReached))).toBe(EXIT.unreachable);
  });
});
