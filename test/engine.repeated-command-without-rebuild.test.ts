import { describe, expect, it } from 'vitest';
import { createEngine } from '../adapters/engine/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import type { EventStore, ReadStreamOptions } from '../domain/ports/index.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { auditor, cmd, establishOne, footprint, operator, rejection, T0 } from './support/fleet.ts';

/**
 * Issue 15 item 5: a repeated command (a projection catch-up re-issues every reaction under its derived id) is
 * answered from the events its id recorded, found through the store's command index, and the cached entity; the
 * target stream is not read from its start and rebuilt. The answer is the one a repeat always got.
 */

interface Watched {
  readonly store: EventStore;
  /** Streams read from revision 0 since the last reset (a rebuild), and readCommand calls. */
  readonly fullReads: string[];
  readonly commandReads: string[];
  reset(): void;
}

const watch = (inner: EventStore, options: { dropCommandIds?: boolean } = {}): Watched => {
  const fullReads: string[] = [];
  const commandReads: string[] = [];
  const store = Object.create(inner) as EventStore;
  store.readStream = (streamId: string, read?: ReadStreamOptions) => {
    if ((read?.fromRevision ?? 0n) === 0n) fullReads.push(streamId);
    return inner.readStream(streamId, read);
  };
  store.readCommand = (streamId: string, commandId: string) => {
    commandReads.push(streamId);
    return inner.readCommand(streamId, commandId);
  };
  if (options.dropCommandIds === true) {
    // Appends without the idempotency key, as an import or a seeding tool writes: the store's index knows nothing.
    store.appendToStream = (streamId, events, { commandId: _dropped, ...rest }) => inner.appendToStream(streamId, events, rest);
  }
  return {
    store,
    fullReads,
    commandReads,
    reset: () => {
      fullReads.length = 0;
      commandReads.length = 0;
    },
  };
};

const revoke = (commandId: string, reason = 'keyCompromise', actor = operator) => ({
  ...cmd.revokeCredential('cred-1', reason),
  metadata: { actor, commandId },
});

const stores = embeddedAndStandInStores();

describe.each(stores)('a repeated command on %s', (_name, open) => {
  it('is answered from its recorded events, without rebuilding its stream, exactly as the first outcome', async () => {
    const inner = await open();
    const watched = watch(inner);
    const engine = createEngine({ store: watched.store, clock: new FakeClock(T0) });
    await establishOne(engine);
    const first = await engine.execute(revoke('0d4c1f0e-7a52-4e0b-9d8a-3f1e2c4b5a69'));
    const before = await footprint(inner);
    watched.reset();
    const again = await engine.execute(revoke('0d4c1f0e-7a52-4e0b-9d8a-3f1e2c4b5a69'));
    expect(again).toEqual({ ...first, deduplicated: true });
    expect(watched.commandReads).toEqual(['credential-cred-1']);
    expect(watched.fullReads).toEqual([]);
    // A fresh engine rebuilds the entity once (its cache is empty), never a second time for the repeat.
    const fresh = watch(inner);
    const second = await createEngine({ store: fresh.store, clock: new FakeClock(T0) }).execute(revoke('0d4c1f0e-7a52-4e0b-9d8a-3f1e2c4b5a69'));
    expect(second).toEqual({ ...first, deduplicated: true });
    expect(fresh.fullReads).toEqual(['credential-cred-1']);
    expect(await footprint(inner)).toEqual(before);
    await inner.close();
  });

  // Review 78: the state the command left (CommandOutcome.state), no longer the state now as before.
  it('reports the state its command left, not the state after later commands', async () => {
    const inner = await open();
    const engine = createEngine({ store: inner, clock: new FakeClock(T0) });
    await establishOne(engine);
    const provision = { ...cmd.provisionCredential('cred-1'), metadata: { actor: operator, commandId: '6b3e0c1d-1f2a-4b5c-8d7e-9f0a1b2c3d4e' } };
    const issued = await engine.execute({ ...cmd.issueCredential('cred-2'), metadata: { actor: operator, commandId: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' } });
    await engine.execute({ ...cmd.provisionCredential('cred-2'), metadata: provision.metadata });
    await engine.execute(revoke('1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9'));
    const again = await engine.execute({ ...cmd.issueCredential('cred-2'), metadata: { actor: operator, commandId: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' } });
    expect(again.deduplicated).toBe(true);
    expect(again.events).toEqual(issued.events);
    expect(again.state).toBe(issued.state);
    expect(again.state).toBe('initialized');
    await inner.close();
  });

  it('refuses the id reused for another command or by another actor, through the index too, and writes nothing', async () => {
    const inner = await open();
    const watched = watch(inner);
    const engine = createEngine({ store: watched.store, clock: new FakeClock(T0) });
    await establishOne(engine);
    await engine.execute(revoke('2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f'));
    const before = await footprint(inner);
    watched.reset();
    const other = await rejection(engine.execute(revoke('2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f', 'superseded')));
    expect(other.problem.code).toBe('validation');
    expect(other.message).toMatch(/already used for a different command/);
    const stranger = await rejection(engine.execute(revoke('2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f', 'keyCompromise', { ...auditor, role: 'operator' })));
    expect(stranger.message).toMatch(/already used by another actor/);
    expect(watched.commandReads.length).toBe(2);
    expect(watched.fullReads).toEqual([]);
    expect(await footprint(inner)).toEqual(before);
    await inner.close();
  });

  it('refuses the id reused for a command on another entity, and writes nothing (no second event under its event ids)', async () => {
    const inner = await open();
    const engine = createEngine({ store: inner, clock: new FakeClock(T0) });
    await establishOne(engine);
    const metadata = { actor: operator, commandId: '4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b' };
    await engine.execute({ ...cmd.issueCredential('cred-2'), metadata });
    const before = await footprint(inner);
    const elsewhere = await rejection(engine.execute({ ...cmd.issueCredential('cred-3'), metadata }));
    expect(elsewhere.problem.code).toBe('validation');
    expect(elsewhere.message).toMatch(/already used for a different command/);
    expect(await inner.readStream('credential-cred-3')).toEqual([]);
    expect(await footprint(inner)).toEqual(before);
    // The first command, sent again, is still answered with its outcome.
    expect((await engine.execute({ ...cmd.issueCredential('cred-2'), metadata })).deduplicated).toBe(true);
    await inner.close();
  });

  it('is still recognised when its events were stored without the idempotency key (the stream is rebuilt then)', async () => {
    const inner = await open();
    const watched = watch(inner, { dropCommandIds: true });
    const engine = createEngine({ store: watched.store, clock: new FakeClock(T0) });
    await establishOne(engine);
    const first = await engine.execute(revoke('3d4e5f6a-7b8c-4d9e-8f0a-2b3c4d5e6f7a'));
    const before = await footprint(inner);
    watched.reset();
    const again = await engine.execute(revoke('3d4e5f6a-7b8c-4d9e-8f0a-2b3c4d5e6f7a'));
    expect(again).toEqual({ ...first, deduplicated: true });
    expect(watched.commandReads).toEqual(['credential-cred-1']);
    expect(watched.fullReads).toEqual(['credential-cred-1']);
    expect(await footprint(inner)).toEqual(before);
    await inner.close();
  });
});
