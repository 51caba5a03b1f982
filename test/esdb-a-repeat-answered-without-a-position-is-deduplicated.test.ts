/**
 * Review 55: older servers answer an idempotent repeat of a batch (same event ids, same place) with `no_position`.
 * The adapter made that a permanent error ("no position returned"); it is a repeat, answered `deduplicated` with the
 * position of the event read back, with or without a command id. The stand-in answers as such a server does.
 */
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { ExpectedRevision, type EventToAppend } from '../domain/ports/event-store.ts';
import { openEventStoreDbStore, type EventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const events = (count: number): EventToAppend[] =>
  Array.from({ length: count }, (_, n) => ({ id: randomUUID(), type: 'Enrolled', data: { n }, metadata: {} }));

const { startStandIn, hold } = standInTeardown();
let standIn: StandIn;
const open = (): EventStoreDbStore => hold(openEventStoreDbStore(standIn.connectionString));

beforeEach(async () => {
  standIn = await startStandIn({ repeatsWithoutPosition: true });
});

describe('a repeat the server answers without a position', () => {
  it('is deduplicated at the first write’s position, without a command id', async () => {
    const store = open();
    const stream = `node-${randomUUID()}`;
    const batch = events(2);
    const first = await store.appendToStream(stream, batch, { expectedRevision: ExpectedRevision.any });
    const again = await store.appendToStream(stream, batch, { expectedRevision: ExpectedRevision.any });
    expect(again).toEqual({ nextExpectedRevision: first.nextExpectedRevision, position: first.position, deduplicated: true });
    expect(await store.readStream(stream)).toHaveLength(2);
  });

  it('is deduplicated at the first write’s position when two processes append one command at once', async () => {
    // Both read the stream before either writes; the second's events reach the server as a repeat of the first's
    const stream = `node-${randomUUID()}`;
    const batch = events(1);
    const commandId = randomUUID();
    const options = { expectedRevision: ExpectedRevision.noStream, commandId };
    const [a, b] = await Promise.all([open().appendToStream(stream, batch, options), open().appendToStream(stream, batch, options)]);
    const stored = await open().readStream(stream);
    expect(stored.map((e) => e.id)).toEqual([batch[0]!.id]);
    expect([a.position, b.position]).toEqual([stored[0]!.position, stored[0]!.position]);
    expect([a.deduplicated, b.deduplicated].sort()).toEqual([false, true]);
  });
});
