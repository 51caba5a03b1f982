/**
 * Review 179, finding 4: a hard-deleted (tombstoned) entity stream reads as absent, so a new command for its id was
 * decided, and its append got the client's StreamDeletedError, which came out as an untyped EventStoreDbError (a
 * 500 over HTTP). EventStoreDB never lets a tombstoned stream be written again: the append is refused as an
 * `illegal_transition` by rule `stream_deleted` naming the stream (409 over HTTP), and nothing is retried.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { mapRaisedError } from '../adapters/http/map-raised-error.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { cmd, T0 } from './support/fleet.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const failure = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => undefined, (error: unknown) => error);

describe('EventStoreDB: a hard-deleted entity stream', () => {
  const { startStandIn, hold } = standInTeardown();

  it('refuses a new command for its id as stream_deleted, naming the stream, never as a server error', async () => {
    const standIn = await startStandIn();
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.registerNode('meter-1'));
    standIn.log.tombstone('node-meter-1');

    const fresh = createEngine({ store, clock: new FakeClock(T0) });
    const error = await failure(fresh.execute(cmd.registerNode('meter-1')));
    expect(isCredenceError(error, 'illegal_transition'), String(error)).toBe(true);
    expect(isCredenceError(error) && error.problem).toMatchObject({ streamId: 'node-meter-1', state: 'deleted', rule: 'stream_deleted', attempted: 'NodeRegistered' });
    expect((error as Error).message).toMatch(/node-meter-1/);
    expect((error as Error).message).toMatch(/cannot be used again/);
    expect(mapRaisedError(error).status).toBe(409);
  });

  it('refuses a plain append (no command id, no facts) to it the same way', async () => {
    const standIn = await startStandIn();
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    standIn.log.tombstone('credential-gone');
    expect(await store.readStream('credential-gone')).toEqual([]);
    const error = await failure(
      store.appendToStream('credential-gone', [{ id: '6f1c1f5e-8d0e-4c47-9a55-0b8f7f6f9a01', type: 'CredentialIssued', data: {}, metadata: {} }], {
        expectedRevision: ExpectedRevision.any,
      }),
    );
    expect(isCredenceError(error, 'illegal_transition'), String(error)).toBe(true);
    expect(isCredenceError(error) && error.problem).toMatchObject({ streamId: 'credential-gone', rule: 'stream_deleted' });
  });
});
