/**
 * Review 179, finding 3: an entity stream another writer of the cluster truncated (`$tb` or a max count in its
 * metadata) was read from its first readable revision as if that were the entity's first event, so a command on it
 * failed as `broken_history … NodeEnrolled is not allowed in state absent … (run credence replay)`. A read of an entity
 * stream from revision 0 that finds a later revision first is damage, said as such (a `protocol` error, as a malformed
 * record of an entity stream is), naming the stream and the revision found; reads from a later revision, reads of
 * streams that are no entity's, and the fleet replay (which reads $all and does not judge gaps) go on as before.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { replayAll } from '../projections/replay/index.ts';
import { cmd, T0 } from './support/fleet.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const failure = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => undefined, (error: unknown) => error);

describe('EventStoreDB: an entity stream truncated by another writer', () => {
  const { startStandIn, hold } = standInTeardown();

  /** A stand-in whose node-meter-1 (registered and enrolled: revisions 0 and 1) another writer truncated before 1. */
  const truncatedNodeStream = async () => {
    const standIn = await startStandIn();
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('meter-1'));
    await engine.execute(cmd.enrolNode('meter-1'));
    standIn.log.truncate('node-meter-1', 1n);
    return { standIn, store };
  };

  it('fails a command on the entity as a truncated stream, naming it and its first revision, not as broken history', async () => {
    const { store } = await truncatedNodeStream();

    // A new engine: nothing of the node cached, so the decision reads its stream from the start.
    const fresh = createEngine({ store, clock: new FakeClock(T0) });
    const error = await failure(fresh.execute(cmd.issueCredential('cred-1', 'meter-1')));
    expect(isCredenceError(error, 'protocol'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/node-meter-1/);
    expect((error as Error).message).toMatch(/revision 1/);
    expect((error as Error).message).toMatch(/truncat/);
    expect((error as Error).message).not.toMatch(/not allowed in state/);

    const read = await failure(store.readStream('node-meter-1'));
    expect(isCredenceError(read, 'protocol'), String(read)).toBe(true);
    // The fleet replay reads $all and does not judge gaps: still clean.
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('reads the stream from a later revision, and a truncated stream that is no entity\'s, as before', async () => {
    const { standIn, store } = await truncatedNodeStream();
    expect((await store.readStream('node-meter-1', { fromRevision: 1n })).map((e) => e.revision)).toEqual([1n]);

    const foreign = `billing-${randomUUID()}`;
    const record = () => ({ id: randomUUID(), type: 'Invoice', contentType: 'application/json', data: Buffer.from('{}'), customMetadata: Buffer.from('{}') });
    standIn.log.append(foreign, { kind: 'any' }, [record(), record(), record()]);
    standIn.log.truncate(foreign, 2n);
    expect((await store.readStream(foreign)).map((e) => e.revision)).toEqual([2n]);
  });
});
