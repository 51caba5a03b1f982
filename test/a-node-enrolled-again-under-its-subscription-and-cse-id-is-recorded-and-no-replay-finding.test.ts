import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';

/*
 * Review 307: machines v12 refused a NodeEnrolled naming the subscription and CSE-ID the node is enrolled with
 * (enrolmentChanges, review 295). Every store where `node enrol` was ever rerun then held a replay finding that could
 * never be cleared (replay, `state --at` and `history` exit 1 at every run), and an idempotent provisioning script
 * rerunning `credence node enrol` exited 1. The rule is out: such an enrolment is legal, and `credence node enrol`
 * sends none (test/cli-node-enrol-again-under-its-subscription-and-cse-id-sends-nothing.test.ts).
 */

const enrol = (subscriptionId: string, cseId: string) => command('enrolNode', { nodeId: 'meter-1', subscriptionId, cseId }, { actor: operator });

/** meter-1 enrolled under sub-1 as /cse-meter-1 (cmd.enrolNode), sub-2 recorded beside it. */
const enrolledEngine = async () => {
  const store = openSqliteStore({ memory: true });
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const x of [cmd.createSubscription('sub-1', at(365)), cmd.createSubscription('sub-2', at(365)), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(x);
  return { store, engine };
};

const enrolments = async (store: EventStore) =>
  (await store.readStream('node-meter-1')).filter((e) => e.type === 'NodeEnrolled').map((e) => `${e.data['subscriptionId']} ${e.data['cseId']}`);

describe('a node enrolled again under its subscription and CSE-ID (review 307)', () => {
  it('is recorded by the engine, and replay finds nothing in it', async () => {
    const { store, engine } = await enrolledEngine();
    await engine.execute(enrol('sub-1', '/cse-meter-1'));
    await engine.execute(enrol('sub-1', '/cse-meter-1'));
    expect(await enrolments(store)).toEqual(['sub-1 /cse-meter-1', 'sub-1 /cse-meter-1', 'sub-1 /cse-meter-1']);
    expect((await replayAll(store)).findings).toEqual([]);
    const entity = await replayEntity(store, 'node-meter-1');
    expect(entity.state).toBe('enrolled');
    expect(entity.verdict).toMatchObject({ ok: true });
  });

  it('leaves a move and a new CSE-ID accepted as before', async () => {
    const { store, engine } = await enrolledEngine();
    await engine.execute(enrol('sub-1', '/cse-meter-1b'));
    await engine.execute(enrol('sub-2', '/cse-meter-1b'));
    expect(await enrolments(store)).toEqual(['sub-1 /cse-meter-1', 'sub-1 /cse-meter-1b', 'sub-2 /cse-meter-1b']);
    expect((await replayAll(store)).findings).toEqual([]);
  });
});
