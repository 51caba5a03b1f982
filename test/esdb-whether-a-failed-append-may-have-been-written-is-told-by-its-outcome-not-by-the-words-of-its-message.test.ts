/**
 * Whether a failed append may have been written was carried by words appended to the error's message
 * (MAY_BE_WRITTEN, NOTHING_WRITTEN), and the adapter, the HTTP answer and the CLI decided by reading those words back
 * (`message.endsWith`). A message wrapped, cut short or given a suffix after them flipped the answer between "may have
 * been stored" (retry with the same command id) and "nothing was stored", and a server's words that happened to end
 * so were taken for the adapter's own. The fact is now a typed field, `appendOutcome`, and every decision reads it;
 * the message still ends with the same words.
 */
import { describe, expect, it } from 'vitest';
import { asAppendFailure, eventStoreUnavailableOf, EventStoreDbError, MAY_BE_WRITTEN, NOTHING_WRITTEN } from '../adapters/driven/store/eventstoredb/driver.ts';
import { mapError } from '../adapters/http/problems.ts';
import { EXIT, runAction } from '../bin/program.ts';
import { capture } from './support/cli.ts';

const unavailable = (what: string, said = '14 UNAVAILABLE: No connection established') =>
  new EventStoreDbError(`EventStoreDB ${what} failed: ${said}`, true, { unreachable: true });

/** The adapter's failure of an append, as append.ts makes it: `written` whether any write of it had gone out. */
const appendFailure = (written: boolean, what = 'read of node-a'): EventStoreDbError => {
  const failure = asAppendFailure(unavailable(what), written);
  expect(failure).toBeInstanceOf(EventStoreDbError);
  return failure as EventStoreDbError;
};

/** What the CLI prints after the error line for a transient failure of the event store. */
const cliHint = async (error: unknown): Promise<string[]> => {
  const c = capture();
  expect(await runAction(c.io, () => Promise.reject(error))).toBe(EXIT.unreachable);
  return c.err.slice(1);
};

describe('a failed append carries whether it may have been written as a field', () => {
  it('is may_be_written once a write went out and nothing_written before, the message ending with the same words as before', () => {
    const may = appendFailure(true, 'append to node-a');
    const nothing = appendFailure(false);
    expect([may.appendOutcome, nothing.appendOutcome]).toEqual(['may_be_written', 'nothing_written']);
    expect(may.message).toBe(`EventStoreDB append to node-a failed: 14 UNAVAILABLE: No connection established${MAY_BE_WRITTEN}`);
    expect(nothing.message).toBe(`EventStoreDB read of node-a failed: 14 UNAVAILABLE: No connection established${NOTHING_WRITTEN}`);
  });

  it('is made with the field, which adds the words; a refusal (not transient) carries no outcome', () => {
    const made = new EventStoreDbError('EventStoreDB append to node-a failed: 1 CANCELLED: Call cancelled', true, { appendOutcome: 'may_be_written' });
    expect(made.appendOutcome).toBe('may_be_written');
    expect(made.message).toBe(`EventStoreDB append to node-a failed: 1 CANCELLED: Call cancelled${MAY_BE_WRITTEN}`);
    const refused = new EventStoreDbError('EventStoreDB append to node-a failed: refused', false, { appendOutcome: 'may_be_written' });
    expect(refused.appendOutcome).toBeUndefined();
    expect(refused.message).toBe('EventStoreDB append to node-a failed: refused');
  });
});

describe('a message that no longer ends with the words does not flip the answer', () => {
  it('nothing written, with a suffix after the words: HTTP still says nothing was stored', () => {
    const error = appendFailure(false);
    error.message = `${error.message} [node-a:2113]`;
    expect(eventStoreUnavailableOf(error)).toEqual({ reason: 'unreachable', nothingWritten: true });
    const detail = mapError(error, 'command').detail;
    expect(detail).toContain('nothing was stored');
    expect(detail).not.toContain('may have been stored');
  });

  it('nothing written, its message cut short: HTTP still says nothing was stored', () => {
    const error = appendFailure(false);
    error.message = error.message.slice(0, 60);
    expect(mapError(error, 'command').detail).toContain('nothing was stored');
  });

  it('may be written, its message cut short: the CLI still says to send it again with the same --command-id', async () => {
    const error = appendFailure(true, 'append to node-a');
    error.message = error.message.slice(0, 60);
    expect(await cliHint(error)).toEqual([expect.stringContaining('send the command again, with the same --command-id')]);
  });

  it('nothing written, with a suffix: the CLI still says to send it again with the same --command-id', async () => {
    const error = appendFailure(false);
    error.message = `${error.message} (wrapped)`;
    expect(await cliHint(error)).toEqual([expect.stringContaining('send the command again, with the same --command-id')]);
  });
});

describe('words in a message that the fact contradicts are not taken for it', () => {
  it("a failure whose server words end as NOTHING_WRITTEN, met once a write went out, may have been written", () => {
    const said = unavailable('append to node-a', `14 UNAVAILABLE: proxy said${NOTHING_WRITTEN}`);
    const failure = asAppendFailure(said, true) as EventStoreDbError;
    expect(failure.appendOutcome).toBe('may_be_written');
    expect(eventStoreUnavailableOf(failure)?.nothingWritten).toBeUndefined();
    const detail = mapError(failure, 'command').detail;
    expect(detail).toContain('may have been stored');
    expect(detail).not.toContain('nothing was stored');
  });

  it('a read (no append) whose server words end as MAY_BE_WRITTEN is no append: the CLI gives no --command-id advice', async () => {
    const read = unavailable('read of node-a', `1 CANCELLED: Call cancelled${MAY_BE_WRITTEN}`);
    expect(read.appendOutcome).toBeUndefined();
    expect(await cliHint(read)).toEqual([expect.not.stringContaining('--command-id')]);
  });
});
