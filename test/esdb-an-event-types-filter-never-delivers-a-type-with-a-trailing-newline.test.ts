/**
 * Review 421: the event-type filter goes to the server as `^(?:CredentialIssued)$`, and .NET's `$` (no Multiline)
 * also matches before a final "\n": on a real server a record typed "CredentialIssued\n" passed it, and with event
 * types alone the adapter took the server's word (filters.ts keep). The adapter now checks the types itself whenever
 * they are given; the stand-in reads `$` as .NET does, so it passes such a record as a real server would.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExpectedRevision, type EventStore, type EventToAppend } from '../domain/ports/event-store.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { compileFilter } from '../adapters/driven/store/eventstoredb/filters.ts';
import type { WireEvent } from '../adapters/driven/store/eventstoredb/driver.ts';
import { asDotNet } from './esdb-standin/filter.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { collect, take } from './store-conformance/helpers.ts';

const event = (type: string): EventToAppend => ({ id: randomUUID(), type, data: {}, metadata: {} });

describe('the stand-in reads a filter pattern as .NET does', () => {
  it('`$` matches at the end or before one final newline; escaped and in a class it is a dollar', () => {
    const dotNet = (pattern: string) => new RegExp(asDotNet(pattern), 'u');
    expect(['CredentialIssued', 'CredentialIssued\n', 'CredentialIssued\n\n', 'CredentialIssuedX'].map((type) => dotNet('^(?:CredentialIssued)$').test(type))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(dotNet('^[^$]').test('$all')).toBe(false);
    expect(dotNet('^a\\$$').test('a$')).toBe(true);
  });
});

describe('an event-types filter on EventStoreDB', () => {
  let standIn: StandIn;
  let store: EventStore;
  beforeAll(async () => {
    standIn = await startStandIn();
    store = openEventStoreDbStore(standIn.connectionString);
  });
  afterAll(async () => {
    await store?.close();
    await standIn?.stop();
  });

  it('keeps only the types asked for, not one that differs by a trailing newline', () => {
    const { keep } = compileFilter({ eventTypes: ['CredentialIssued'] }, 'filter');
    const wire = (type: string): WireEvent => ({ id: randomUUID(), streamId: 'credential-1', revision: 0n, position: 1n, type, isJson: true, data: {}, metadata: {} });
    expect(keep(wire('CredentialIssued'))).toBe(true);
    expect(keep(wire('CredentialIssued\n'))).toBe(false);
  });

  it('delivers to a subscription, and reads, no record typed with a trailing newline', async () => {
    const stream = `credential-${randomUUID()}`;
    const newline = event('CredentialIssued\n');
    const issued = event('CredentialIssued');
    await store.appendToStream(stream, [newline, issued], { expectedRevision: ExpectedRevision.noStream });
    const filter = { eventTypes: ['CredentialIssued'] };

    const subscription = store.subscribeToAll({ from: { kind: 'start' }, filter });
    try {
      const [first] = await take(subscription[Symbol.asyncIterator](), 1);
      expect([first!.id, first!.type]).toEqual([issued.id, 'CredentialIssued']);
    } finally {
      await subscription.unsubscribe();
    }
    expect((await collect(store.readAll({ filter }))).map((e) => e.id)).toEqual([issued.id]);
  });
});
