import { randomUUID } from 'node:crypto';
import type { Observable, Subscription } from 'rxjs';
import { ExpectedRevision, type EventStore, type EventToAppend, type StoreSubscription } from '../domain/ports/event-store.ts';
import { openSqliteStore } from '../adapters/driven/store/sqlite/index.ts';
import { openEventStoreDbStore, type DropNotice } from '../adapters/driven/store/eventstoredb/index.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';

/** Valid stored lifecycle events (they decode), appended straight to a store so that large backlogs are cheap. */
const metadata = (commandType: string) => {
  const commandId = randomUUID();
  return {
    schemaVersion: 1,
    actor: { id: 'operator:alice', role: 'operator' },
    commandId,
    commandType,
    correlationId: commandId,
    causationId: commandId,
    occurredAt: '2026-01-01T00:00:00.000Z',
  };
};

/** `count` node events for node `nodeId`, alternately NodeAssociated and NodeAssociationReleased; `from` numbers them. */
export const nodeEvents = (nodeId: string, count: number, from = 0): EventToAppend[] =>
  Array.from({ length: count }, (_, i) => {
    const n = from + i;
    return {
      id: randomUUID(),
      type: n % 2 === 0 ? 'NodeAssociated' : 'NodeAssociationReleased',
      data: { nodeId, associationId: `sa-${n >> 1}` },
      metadata: metadata(n % 2 === 0 ? 'associateNode' : 'releaseNodeAssociation'),
    };
  });

export const credentialEvents = (credentialId: string, count: number): EventToAppend[] =>
  Array.from({ length: count }, () => ({
    id: randomUUID(),
    type: 'CredentialExpired',
    data: { credentialId },
    metadata: metadata('expireCredential'),
  }));

/** Appends `events` to `stream` in batches, continuing the stream's revisions. */
export async function appendInBatches(store: EventStore, stream: string, events: readonly EventToAppend[], batch = 1_000): Promise<void> {
  const last = (await store.readStream(stream)).at(-1)?.revision;
  let expected = ExpectedRevision.after(last);
  for (let i = 0; i < events.length; i += batch) {
    const result = await store.appendToStream(stream, events.slice(i, i + batch), { expectedRevision: expected });
    expected = ExpectedRevision.exact(result.nextExpectedRevision);
  }
}

/**
 * Appends a large backlog. On the stand-in it goes straight into its log: the point is what subscribers do with a
 * backlog, and 100,000 appends through gRPC would only make the test slower (appends through the adapter are
 * covered by the conformance suite and by the slow-subscriber test).
 */
export async function seedBacklog(target: Target, stream: string, events: readonly EventToAppend[]): Promise<void> {
  if (target.standIn === undefined) return appendInBatches(target.store, stream, events);
  const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));
  const proposed = events.map((e) => ({ id: e.id, type: e.type, contentType: 'application/json', data: json(e.data), customMetadata: json(e.metadata) }));
  for (let i = 0; i < proposed.length; i += 1_000) target.standIn.log.append(stream, { kind: 'any' }, proposed.slice(i, i + 1_000));
}

/** A store under test, with what each kind can tell about its subscriptions. */
export interface Target {
  readonly store: EventStore;
  /** The stand-in when the target is the EventStoreDB adapter. */
  readonly standIn: StandIn | undefined;
  readonly drops: DropNotice[];
  /** Every store subscription opened through `store`, to check what happens to them. */
  readonly opened: StoreSubscription[];
  /** Events taken out of those subscriptions so far. */
  pulled(): number;
  close(): Promise<void>;
}

/**
 * Records the subscriptions a store hands out, and counts the events taken out of them: what a stream has pulled
 * but its subscriber has not handled yet is what the stream buffers. Everything else goes to the real store.
 */
const recording = (store: EventStore, opened: StoreSubscription[], pulled: { count: number }): EventStore =>
  new Proxy(store, {
    get(target, property) {
      if (property === 'subscribeToAll') {
        return (options: Parameters<EventStore['subscribeToAll']>[0]): StoreSubscription => {
          const subscription = target.subscribeToAll(options);
          opened.push(subscription);
          return {
            unsubscribe: () => subscription.unsubscribe(),
            [Symbol.asyncIterator]: () => {
              const iterator = subscription[Symbol.asyncIterator]();
              return {
                next: async () => {
                  const result = await iterator.next();
                  if (result.done !== true) pulled.count += 1;
                  return result;
                },
                return: async () => (await iterator.return?.()) ?? { done: true, value: undefined },
              };
            },
          };
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });

export const TARGETS = ['sqlite', 'eventstoredb stand-in'] as const;
export type TargetName = (typeof TARGETS)[number];

export async function openTarget(name: TargetName): Promise<Target> {
  const opened: StoreSubscription[] = [];
  const drops: DropNotice[] = [];
  const counter = { count: 0 };
  const pulled = (): number => counter.count;
  if (name === 'sqlite') {
    const store = openSqliteStore({ memory: true });
    return { store: recording(store, opened, counter), standIn: undefined, drops, opened, pulled, close: () => store.close() };
  }
  const standIn = await startStandIn({ logStart: 2n ** 60n });
  const store = openEventStoreDbStore(standIn.connectionString, {
    resubscribe: { initialDelayMs: 5, maxDelayMs: 20 },
    onSubscriptionDropped: (notice) => drops.push(notice),
  });
  return {
    store: recording(store, opened, counter),
    standIn,
    drops,
    opened,
    pulled,
    close: async () => {
      await store.close();
      await standIn.stop();
    },
  };
}

// Bounds waiting so that a stream that stops delivering fails with a message rather than the test timeout: counted
// from the last event that arrived, so a slow machine that still delivers never trips it. It asserts nothing about
// speed.
const HANG_GUARD_MS = 30_000;

/** Collects what an Observable emits; `until(n)` resolves once n values have arrived. */
export function collector<T>(source: Observable<T>): {
  readonly values: T[];
  readonly subscription: Subscription;
  until(count: number): Promise<void>;
  error(): unknown;
} {
  const values: T[] = [];
  let failure: unknown;
  let waiting: { count: number; resolve: () => void; reject: (e: unknown) => void; progress: () => void } | undefined;
  const check = (): void => {
    if (waiting !== undefined && values.length >= waiting.count) waiting.resolve();
  };
  const subscription = source.subscribe({
    next: (value) => {
      values.push(value);
      waiting?.progress();
      check();
    },
    error: (e: unknown) => {
      failure = e;
      waiting?.reject(e);
    },
  });
  return {
    values,
    subscription,
    error: () => failure,
    until: (count) =>
      new Promise<void>((resolve, reject) => {
        if (failure !== undefined) return reject(failure);
        const stalled = () => reject(new Error(`received ${values.length} of ${count} events, none for ${HANG_GUARD_MS / 1000} s`));
        let timer = setTimeout(stalled, HANG_GUARD_MS);
        waiting = {
          count,
          progress: () => {
            clearTimeout(timer);
            timer = setTimeout(stalled, HANG_GUARD_MS);
          },
          resolve: () => {
            clearTimeout(timer);
            waiting = undefined;
            resolve();
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        check();
      }),
  };
}

/** A gate a slow consumer waits on; `open()` lets every waiter through from then on. */
export function gate(): { wait(): Promise<void>; open(): void } {
  let release: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (release = resolve));
  return { wait: () => opened, open: () => release() };
}
