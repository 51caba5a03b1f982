/**
 * Review 193: since review 186 a new command's id must be in lower case, and a retry under an upper-case id an earlier
 * version recorded is still answered (test/a-command-id-is-compared-as-sent-so-a-retry-finds-what-an-earlier-version-recorded.test.ts).
 * On EventStoreDB an id recorded before command-id claim streams existed has no `credence-command-<id>`
 * (docs/eventstoredb.md), so `commandStream` cannot say where it went. A command that starts an entity was decided on
 * an entity assumed new without a read, and one whose target was cached on the cached entry: the lower_case refusal
 * came before any append could conflict, and the retry was refused (400 lower_case) instead of answered. Such an id's
 * target is now read before deciding, so a recording there is found as any retry's is.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { cmd, footprint, T0 } from './support/fleet.ts';
import { commandRecordedByAnEarlierVersion, type SentCommand } from './support/recorded-by-an-earlier-version.ts';

const UPPER = 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE';
const under = <C extends SentCommand>(c: C, commandId: string): C => ({ ...c, metadata: { ...c.metadata, commandId } });

/**
 * The command recorded as a version before claim streams recorded it: its events under the id as sent (store key,
 * metadata, event ids), and no `credence-command-<id>` stream (scavenged here: the adapter now writes one).
 */
const recordedBeforeClaimStreams = async (standIn: StandIn, store: EventStore, sent: SentCommand, commandId: string): Promise<string> => {
  const streamId = await commandRecordedByAnEarlierVersion(store, under(sent, commandId));
  expect(standIn.log.scavenge(`credence-command-${commandId}`)).toHaveLength(1);
  expect(await store.commandStream?.(commandId)).toBeUndefined();
  return streamId;
};

describe('a command recorded under an upper-case id before claim streams existed, retried on EventStoreDB (the stand-in)', () => {
  let standIn: StandIn;
  let store: EventStore;
  beforeEach(async () => {
    standIn = await startStandIn();
    store = await openEventStoreDbStore(standIn.connectionString);
  });
  afterEach(async () => {
    await store.close();
    await standIn.stop();
  });

  it.each([
    ['a registration', () => cmd.registerNode('n1')],
    ['a subscription', () => cmd.createSubscription('sub-9')],
  ])('%s (a command that starts its entity) is its first outcome on a new engine, nothing written', async (_name, sent) => {
    // Given the command recorded under an upper-case id by an earlier version, with no claim stream
    await createEngine({ store, clock: new FakeClock(T0) }).execute(cmd.createSubscription());
    const streamId = await recordedBeforeClaimStreams(standIn, store, sent(), UPPER);
    const stored = await store.readStream(streamId);
    const before = await footprint(store);

    // When the client retries it under that id on the upgraded engine (a new process: nothing cached)
    const again = await createEngine({ store, clock: new FakeClock(T0) }).execute(under(sent(), UPPER));

    // Then it is the first outcome, deduplicated, and nothing is written
    expect(again).toMatchObject({ commandId: UPPER, streamId, events: stored, deduplicated: true });
    expect(await footprint(store)).toEqual(before);
  });

  it('a command on an entity the engine has cached, recorded there by another process of an earlier version, is its first outcome', async () => {
    // Given meter-1 registered and cached by this engine, then enrolled by an earlier version under an upper-case id
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode());
    const streamId = await recordedBeforeClaimStreams(standIn, store, cmd.enrolNode(), UPPER);
    const stored = (await store.readStream(streamId)).slice(-1);
    const before = await footprint(store);

    // When the client retries the enrolment under that id on this engine
    const again = await engine.execute(under(cmd.enrolNode(), UPPER));

    // Then it is the first outcome, deduplicated, and nothing is written
    expect(again).toMatchObject({ commandId: UPPER, streamId, events: stored, deduplicated: true });
    expect(await footprint(store)).toEqual(before);
  });
});
