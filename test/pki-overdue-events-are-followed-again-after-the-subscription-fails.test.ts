import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { OverduePkiEvents, PKI_OVERDUE_MS } from '../adapters/runtime/pki-overdue.ts';
import type { EventStore, RecordedEvent, StoreSubscription, SubscribeOptions } from '../domain/ports/index.ts';

/*
 * Review 111: the following of `pki` events subscribed once; a store read that failed ended it for good, and a stuck
 * read model then got OCSP `good` again. It is taken again after the last event delivered, and an event its read model
 * has not reached PKI_OVERDUE_MS after it came becomes the floor.
 */

/**
 * A store whose first subscription fails at once, and whose later ones deliver `events` and then wait; `head`, its
 * head position when the following starts (none: a store without the read, taken from the end as before).
 */
const storeFailingOnce = (events: readonly bigint[], head?: { readonly at: bigint | undefined }) => {
  const asked: SubscribeOptions[] = [];
  const store = {
    ...(head !== undefined ? { headPosition: async () => head.at } : {}),
    subscribeToAll(options: SubscribeOptions): StoreSubscription {
      asked.push(options);
      const first = asked.length === 1;
      let ended = false;
      let wake: (() => void) | undefined;
      return {
        async *[Symbol.asyncIterator]() {
          if (first) throw new Error('the store could not be read');
          for (const position of events) yield { position, type: 'CredentialRevoked' } as unknown as RecordedEvent;
          while (!ended) await new Promise<void>((resolve) => (wake = resolve));
        },
        async unsubscribe() {
          ended = true;
          wake?.();
        },
      };
    },
  } as unknown as EventStore;
  return { store, asked };
};

const readModelsAt = (position: bigint | undefined): Database.Database => {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE projection_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL, occurred_at TEXT NOT NULL, event_id TEXT)');
  if (position !== undefined) db.prepare("INSERT INTO projection_checkpoints VALUES ('pki', ?, '2026-12-04T00:00:00.000Z', NULL)").run(position);
  return db;
};

describe('the following of pki events a stuck read model is told by', () => {
  it('is taken again after a failed subscription, from where it was, and finds the event the read model did not reach', async () => {
    const { store, asked } = storeFailingOnce([7n]);
    let now = 0;
    const errors: unknown[] = [];
    const stuck = vi.fn();
    const overdue = new OverduePkiEvents({ store, readModels: readModelsAt(3n), now: () => now, onStuck: stuck, onError: (e) => errors.push(e) });
    overdue.start();
    try {
      await vi.waitFor(() => expect(asked).toHaveLength(2), { timeout: 5_000 });
      expect(asked[0]!.from).toEqual({ kind: 'end' });
      expect(String(errors[0])).toContain('the store could not be read');
      await vi.waitFor(() => {
        now += PKI_OVERDUE_MS + 1;
        overdue.look();
        expect(overdue.floor()).toBe(7n);
      });
      expect(stuck).toHaveBeenCalledTimes(1);
    } finally {
      await overdue.stop();
    }
  });

  it.each([
    ['after the head at the start', 5n, { kind: 'after', position: 5n }],
    ['from the start of an empty store', undefined, { kind: 'start' }],
  ])('a subscription that failed before its first event is taken again %s, not from the end, which skipped what came between', async (_, at, from) => {
    const { store, asked } = storeFailingOnce([7n], { at });
    const overdue = new OverduePkiEvents({ store, readModels: readModelsAt(3n), now: () => 0, onStuck: () => undefined, onError: () => undefined });
    overdue.start();
    try {
      await vi.waitFor(() => expect(asked).toHaveLength(2), { timeout: 5_000 });
      expect(asked.map((a) => a.from)).toEqual([{ kind: 'end' }, from]);
    } finally {
      await overdue.stop();
    }
  });

  it('sets no floor for an event the read model reached', async () => {
    const { store } = storeFailingOnce([7n]);
    let now = 0;
    const overdue = new OverduePkiEvents({ store, readModels: readModelsAt(7n), now: () => now, onStuck: () => undefined, onError: () => undefined });
    overdue.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      now += PKI_OVERDUE_MS + 1;
      overdue.look();
      expect(overdue.floor()).toBeUndefined();
    } finally {
      await overdue.stop();
    }
  });
});
