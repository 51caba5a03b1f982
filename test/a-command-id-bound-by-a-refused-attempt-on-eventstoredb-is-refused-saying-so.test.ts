/**
 * Review 401 (low; EventStoreDB only): an append binds its command id to its stream (`credence-command-<id>`) before
 * its events, so a command refused after that (its event append conflicted, and the engine's retry re-decided into a
 * refusal) left the id bound with nothing recorded. The corrected command under that id on another stream was then
 * refused "already used for a different command", blaming the client for a reuse that never happened. It is now
 * refused by its own rule, `command_id_bound_by_refused_attempt`, saying to send the command under a new commandId,
 * which then succeeds. On the embedded store a refused command binds nothing: the corrected retry succeeds, as before.
 *
 * Review 413: a claim whose events are still being written reads the same as a refused attempt's, and the claim does
 * not record who sent it, so the refusal says both and nothing more (the claimant's actor, or whether its command was
 * refused, is not another sender's to learn): it said "bound by an earlier attempt that recorded nothing".
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { commandClaimStreamOf } from '../adapters/driven/store/eventstoredb/append.ts';
import type { EsdbDriver } from '../adapters/driven/store/eventstoredb/driver.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';
import { cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

const { startStandIn, hold } = standInTeardown();

const enrol = (nodeId: string, commandId: string) =>
  command('enrolNode', { nodeId, subscriptionId: 'sub-1', cseId: `/cse-${nodeId}` }, { actor: operator, commandId });
const revoke = (nodeId: string) => command('revokeNode', { nodeId, reason: 'keyCompromise' }, { actor: operator });

/**
 * Two engines on one store: A's first append under `commandId` is overtaken by B's revocation of the node it enrols,
 * which `overtake` runs where the store lets it (on EventStoreDB right after the id's claim is written).
 */
interface Race {
  readonly a: Engine;
  readonly store: EventStore;
  readonly overtaken: () => boolean;
}

const seed = async (engine: Engine) => {
  await engine.execute(cmd.createSubscription());
  await engine.execute(cmd.registerNode('n1'));
  await engine.execute(cmd.registerNode('n2'));
};

const onEventStoreDb = async (commandId: string): Promise<Race> => {
  const standIn = await startStandIn();
  const store = hold(openEventStoreDbStore(standIn.connectionString));
  const other = hold(openEventStoreDbStore(standIn.connectionString));
  const a = createEngine({ store, clock: new FakeClock(T0) });
  const b = createEngine({ store: other, clock: new FakeClock(T0) });
  await seed(a);
  // B revokes n1 right after A's append has claimed the command id, before A's events go
  const driver = (store as unknown as { driver: EsdbDriver }).driver;
  const append = driver.append.bind(driver);
  let overtaken = false;
  driver.append = async (streamId, events, expected) => {
    const written = await append(streamId, events, expected);
    if (!overtaken && streamId === commandClaimStreamOf(commandId)) {
      overtaken = true;
      await b.execute(revoke('n1'));
    }
    return written;
  };
  return { a, store, overtaken: () => overtaken };
};

const onTheEmbeddedStore = async (commandId: string): Promise<Race> => {
  const inner = openSqliteStore({ memory: true });
  const b = createEngine({ store: inner, clock: new FakeClock(T0) });
  let overtaken = false;
  // B revokes n1 right before A's append under the id: the store refuses it for its expected revision
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (name !== 'appendToStream') return value.bind(target);
      return async (...args: Parameters<EventStore['appendToStream']>) => {
        if (!overtaken && args[2].commandId === commandId) {
          overtaken = true;
          await b.execute(revoke('n1'));
        }
        return target.appendToStream(...args);
      };
    },
  });
  const a = createEngine({ store, clock: new FakeClock(T0) });
  await seed(a);
  return { a, store, overtaken: () => overtaken };
};

describe('a command refused after its append had bound its command id', () => {
  it('on EventStoreDB: its corrected retry under the id is refused saying the id is bound to a command that recorded nothing yet (refused, or still being written), and succeeds under a new id', async () => {
    const X = randomUUID();
    const { a, store, overtaken } = await onEventStoreDb(X);

    // Given A's enrolment of n1 under X, overtaken by B's revocation once X was bound: refused by n1's state
    const first = await rejection(a.execute(enrol('n1', X)));
    expect(overtaken()).toBe(true);
    expect(first.problem.code).toBe('illegal_transition');
    const before = await footprint(store);

    // When the corrected command (n2) is sent under X
    const retried = await rejection(a.execute(enrol('n2', X)));

    // Then it is refused by its own rule, not as a reuse, naming the field and what to do, and writes nothing
    expect(retried.problem.code).toBe('validation');
    const issues = (retried.problem as { issues?: readonly { path: string; rule: string; message: string }[] }).issues;
    expect(issues).toEqual([
      {
        path: 'metadata.commandId',
        rule: 'command_id_bound_by_refused_attempt',
        message: `${X} is bound to a command on another entity that has recorded nothing yet (refused, or still being written): send this command under a new commandId`,
      },
    ]);
    expect(issues![0]!.message).not.toContain('already used');
    expect(issues![0]!.message).not.toContain('earlier attempt');
    // It does not say which stream the id went to: a sender other than the first learns nothing of it
    expect(issues![0]!.message).not.toContain('n1');
    // And so is a command under X its target's machine would refuse (an unknown node), rather than by the machine
    const unknown = await rejection(a.execute(enrol('n404', X)));
    expect((unknown.problem as { issues?: unknown }).issues).toEqual(issues);
    expect(await footprint(store)).toEqual(before);

    // And under a new commandId it succeeds
    const outcome = await a.execute(enrol('n2', randomUUID()));
    expect(outcome.deduplicated).toBe(false);
    expect(outcome.state).toBe('enrolled');
  });

  it('on EventStoreDB: another actor reusing an id whose events are still being written is told the same, nothing about the owner', async () => {
    const X = randomUUID();
    const standIn = await startStandIn();
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const other = hold(openEventStoreDbStore(standIn.connectionString));
    const a = createEngine({ store, clock: new FakeClock(T0) });
    const b = createEngine({ store: other, clock: new FakeClock(T0) });
    await seed(a);
    // Bob's enrolment of n2 under X arrives right after Alice's append claimed X for n1, before her events are written
    const bob = { id: 'operator:bob', role: 'operator' } as const;
    const driver = (store as unknown as { driver: EsdbDriver }).driver;
    const append = driver.append.bind(driver);
    let concurrent: Promise<unknown> | undefined;
    driver.append = async (streamId, events, expected) => {
      const written = await append(streamId, events, expected);
      if (concurrent === undefined && streamId === commandClaimStreamOf(X)) {
        concurrent = rejection(b.execute(command('enrolNode', { nodeId: 'n2', subscriptionId: 'sub-1', cseId: '/cse-n2' }, { actor: bob, commandId: X })));
        await concurrent;
      }
      return written;
    };
    const outcome = await a.execute(enrol('n1', X));
    expect(outcome.state).toBe('enrolled');
    const refused = (await concurrent) as Awaited<ReturnType<typeof rejection>>;
    // Then the words hold either way (refused, or still being written), and say neither that Alice's command was
    // refused nor whose it is: the same as the refused attempt's above
    expect((refused.problem as { issues?: unknown }).issues).toEqual([
      {
        path: 'metadata.commandId',
        rule: 'command_id_bound_by_refused_attempt',
        message: `${X} is bound to a command on another entity that has recorded nothing yet (refused, or still being written): send this command under a new commandId`,
      },
    ]);
  });

  it('on the embedded store: nothing is bound, and the corrected retry under the same id succeeds', async () => {
    const X = randomUUID();
    const { a, store, overtaken } = await onTheEmbeddedStore(X);
    const first = await rejection(a.execute(enrol('n1', X)));
    expect(overtaken()).toBe(true);
    expect(first.problem.code).toBe('illegal_transition');
    const outcome = await a.execute(enrol('n2', X));
    expect(outcome.deduplicated).toBe(false);
    expect(outcome.state).toBe('enrolled');
    await store.close();
  });
});
