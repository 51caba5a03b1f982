/**
 * Review 316 (low): an EventStoreDB append that failed at its first step, the read of the stream before anything is
 * written, said "the events may have been written" (seen with the server stopped). Safe but untrue: an append now
 * says so only once its first write (a claim or the append itself) has gone out; before that it says nothing was
 * written, and still to retry with the same command id, as the failure is transient.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { appendToStream, prepareAppend } from '../adapters/driven/store/eventstoredb/append.ts';
import { connectEventStoreDb } from '../adapters/driven/store/eventstoredb/client.ts';
import { EventStoreDbError, type EsdbDriver } from '../adapters/driven/store/eventstoredb/driver.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const { startStandIn, hold } = standInTeardown();

const event = () => ({ id: randomUUID(), type: 'NodeEnrolled', data: {}, metadata: {} });
const unavailable = (what: string) => new EventStoreDbError(`EventStoreDB ${what} failed: 14 UNAVAILABLE: No connection established`, true, { unreachable: true });

/**
 * The real client on the stand-in, with one transient fault: on the first read, or on the first read after a write
 * went out (`afterWrite`).
 */
const faulty = (driver: EsdbDriver, afterWrite: boolean) => {
  let wrote = false;
  let faulted = false;
  const watched: EsdbDriver = {
    append: (...args) => {
      wrote = true;
      return driver.append(...args);
    },
    readStream: async (streamId, options) => {
      if (!faulted && (!afterWrite || wrote)) {
        faulted = true;
        throw unavailable(`read of ${streamId}`);
      }
      return driver.readStream(streamId, options);
    },
    readAllForwards: (options) => driver.readAllForwards(options),
    readAllBackwards: (options) => driver.readAllBackwards(options),
    subscribeToAll: (start, filter, options) => driver.subscribeToAll(start, filter, options),
    ensurePersistentGroupOnAll: (group, settings) => driver.ensurePersistentGroupOnAll(group, settings),
    subscribePersistentOnAll: (group, bufferSize) => driver.subscribePersistentOnAll(group, bufferSize),
    close: () => driver.close(),
  };
  return watched;
};

const failureOf = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e);

describe('an append that fails before its first write', () => {
  it('with the server stopped: transient, says nothing was written and to retry with the same command id', async () => {
    const running = await startStandIn();
    const store = hold(openEventStoreDbStore(running.connectionString));
    // The store is reached once, so what fails below is the append's own first read.
    await store.appendToStream(`node-${randomUUID()}`, [event()], { expectedRevision: ExpectedRevision.noStream });
    await running.stop();
    const stream = `node-meter-${randomUUID()}`;
    const error = await failureOf(store.appendToStream(stream, [event()], { expectedRevision: ExpectedRevision.noStream, commandId: randomUUID() }));
    expect(error).toBeInstanceOf(EventStoreDbError);
    expect((error as EventStoreDbError).transient).toBe(true);
    expect((error as EventStoreDbError).message).toMatch(new RegExp(`^EventStoreDB read of ${stream} failed: .*; nothing was written: retry with the same command id$`));
    expect((error as EventStoreDbError).message).not.toContain('may have been written');
    expect((error as EventStoreDbError).appendOutcome).toBe('nothing_written');
  });

  it.each([
    ['without facts', false],
    ['with a fact', true],
  ])('%s, at its first read: says nothing was written, and nothing is', async (_label, withFact) => {
    const running = await startStandIn();
    const driver = hold(connectEventStoreDb(running.connectionString));
    const stream = `node-${randomUUID()}`;
    const prepared = prepareAppend(stream, [event()], {
      expectedRevision: ExpectedRevision.noStream,
      commandId: randomUUID(),
      ...(withFact ? { facts: [{ streamId: `subscription-${randomUUID()}`, revision: undefined }] } : {}),
    });
    const error = await failureOf(appendToStream(faulty(driver, false), prepared, 1000));
    expect(error).toBeInstanceOf(EventStoreDbError);
    expect((error as EventStoreDbError).transient).toBe(true);
    expect((error as EventStoreDbError).message).toMatch(/; nothing was written: retry with the same command id$/);
    expect((error as EventStoreDbError).appendOutcome).toBe('nothing_written');
    expect(running.log.stream(stream)).toBeUndefined();
  });
});

describe('an append that fails after its first write went out', () => {
  it('at the read back after its events: still says they may have been written', async () => {
    const running = await startStandIn();
    const driver = hold(connectEventStoreDb(running.connectionString));
    const stream = `node-${randomUUID()}`;
    const prepared = prepareAppend(stream, [event()], { expectedRevision: ExpectedRevision.noStream, commandId: randomUUID() });
    const error = await failureOf(appendToStream(faulty(driver, true), prepared, 1000));
    expect(error).toBeInstanceOf(EventStoreDbError);
    expect((error as EventStoreDbError).transient).toBe(true);
    expect((error as EventStoreDbError).message).toMatch(/; the events may have been written: retry with the same command id$/);
    expect((error as EventStoreDbError).message).not.toContain('nothing was written');
    expect((error as EventStoreDbError).appendOutcome).toBe('may_be_written');
  });
});
