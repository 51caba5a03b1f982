import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStoreInDir } from '../adapters/driven/store/sqlite/index.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { ExpectedRevision, type EventStore, type EventToAppend } from '../domain/ports/event-store.ts';
import { startStandIn } from '../test/esdb-standin/index.ts';
import { lifecycleEvents$, type DeliveryOptions, type LifecycleEvent } from '../projections/streams/index.ts';
import { now, rate } from './stats.ts';

/**
 * The EventStoreDB adapter through the real @eventstore/db-client against the gRPC stand-in, next to the SQLite
 * store, on the same events in the same run. The stand-in is an in-memory test server sharing this process and
 * its CPU: this measures the adapter and client overhead (protobuf, gRPC, HTTP/2 on loopback, our parsing), not
 * EventStoreDB. Appends wait for each other, like commands decided one after another.
 * Observable delivery: integrator streams (projections/streams) over the same store, decoded lifecycle events, next
 * to the raw store subscription over the same events (the stream pulls one event per delivery, by design).
 */
const APPENDS = 1_000;
const CATCH_UP = 20_000;
const DELIVERY = 20_000;

const payload = (n: number): EventToAppend => ({
  id: randomUUID(),
  type: 'CredentialProvisioned',
  data: { credentialId: `meter-${n}-svc`, method: 'pre-provisioning', fingerprint: `sha256:${n.toString(16).padStart(64, '0')}` },
  metadata: { schemaVersion: 1, actor: { id: 'operator:bench', role: 'operator' }, commandId: randomUUID(), occurredAt: '2026-01-01T00:00:00.000Z' },
});

async function appendRate(store: EventStore, prefix: string, withCommandId: boolean): Promise<number> {
  const start = now();
  for (let n = 0; n < APPENDS; n += 1) {
    const options = { expectedRevision: ExpectedRevision.noStream, ...(withCommandId ? { commandId: randomUUID() } : {}) };
    await store.appendToStream(`${prefix}${n}`, [payload(n)], options);
  }
  return now() - start;
}

async function catchUpRate(store: EventStore, prefix: string): Promise<{ subscribeMs: number; readAllMs: number }> {
  for (let batch = 0; batch < CATCH_UP / 500; batch += 1) {
    const events = Array.from({ length: 500 }, (_, n) => payload(batch * 500 + n));
    await store.appendToStream(`${prefix}bulk-${batch}`, events, { expectedRevision: ExpectedRevision.noStream });
  }
  let start = now();
  const subscription = store.subscribeToAll({ from: { kind: 'start' }, filter: { streamPrefixes: [`${prefix}bulk-`] } });
  let seen = 0;
  for await (const _event of subscription) {
    seen += 1;
    if (seen === CATCH_UP) await subscription.unsubscribe();
  }
  const subscribeMs = now() - start;
  start = now();
  seen = 0;
  for await (const _event of store.readAll({ filter: { streamPrefixes: [`${prefix}bulk-`] } })) seen += 1;
  if (seen !== CATCH_UP) throw new Error(`readAll returned ${seen} of ${CATCH_UP} events`);
  return { subscribeMs, readAllMs: now() - start };
}

/** Decodable lifecycle events (the stream parses each one), in node streams of 500, each in its addressee's stream. */
const lifecycle = (n: number, nodeId: string): EventToAppend => {
  const commandId = randomUUID();
  return {
    id: randomUUID(),
    type: n % 2 === 0 ? 'NodeAssociated' : 'NodeAssociationReleased',
    data: { nodeId, associationId: `sa-${n >> 1}` },
    metadata: {
      schemaVersion: 1,
      actor: { id: 'operator:bench', role: 'operator' },
      commandId,
      commandType: n % 2 === 0 ? 'associateNode' : 'releaseNodeAssociation',
      correlationId: commandId,
      causationId: commandId,
      occurredAt: '2026-01-01T00:00:00.000Z',
    },
  };
};

async function deliveryRates(store: EventStore): Promise<{ raw: number; sync: number; async: number }> {
  for (let batch = 0; batch < DELIVERY / 500; batch += 1) {
    // The lifecycle stream refuses an event stored outside its addressee's stream (domain/stored.ts, `misplaced`).
    const events = Array.from({ length: 500 }, (_, n) => lifecycle(batch * 500 + n, `bench-${batch}`));
    await store.appendToStream(`node-bench-${batch}`, events, { expectedRevision: ExpectedRevision.noStream });
  }
  let start = now();
  const subscription = store.subscribeToAll({ from: { kind: 'start' }, filter: { streamPrefixes: ['node-'] } });
  let seen = 0;
  for await (const _event of subscription) {
    seen += 1;
    if (seen === DELIVERY) await subscription.unsubscribe();
  }
  const raw = now() - start;
  const observe = (options: DeliveryOptions<LifecycleEvent>) =>
    new Promise<number>((resolve, reject) => {
      const begin = now();
      let count = 0;
      const stream = lifecycleEvents$(store, { kinds: ['node'] }, options).subscribe({
        next: () => {
          count += 1;
          if (count === DELIVERY) {
            resolve(now() - begin);
            queueMicrotask(() => stream.unsubscribe());
          }
        },
        error: reject,
      });
    });
  const sync = await observe({});
  const async = await observe({ onEvent: async () => undefined });
  return { raw, sync, async };
}

export async function benchEventStoreDb(report: (line: string) => void): Promise<void> {
  const standIn = await startStandIn({ logStart: 2n ** 60n });
  const esdb = openEventStoreDbStore(standIn.connectionString);
  const dir = mkdtempSync(join(tmpdir(), 'credence-bench-esdb-'));
  const sqlite = openSqliteStoreInDir(join(dir, 'data'));
  try {
    const stores: [name: string, store: EventStore][] = [
      ['eventstoredb adapter (stand-in)', esdb],
      ['sqlite store (file, WAL)', sqlite],
    ];
    const results = new Map<string, { plain: number; command: number; subscribe: number; readAll: number; observable: number }>();
    for (const [name, store] of stores) {
      const prefix = `bench-${randomUUID().slice(0, 8)}-`;
      const plain = await appendRate(store, `${prefix}plain-`, false);
      const command = await appendRate(store, `${prefix}cmd-`, true);
      const { subscribeMs, readAllMs } = await catchUpRate(store, prefix);
      const delivery = await deliveryRates(store);
      results.set(name, { plain, command, subscribe: subscribeMs, readAll: readAllMs, observable: delivery.sync });
      report(
        `${name}: appends ${rate(APPENDS, plain)} (with command id ${rate(APPENDS, command)}), ` +
          `catch-up subscription ${rate(CATCH_UP, subscribeMs)}, filtered readAll ${rate(CATCH_UP, readAllMs)}`,
      );
      report(
        `${name}: Observable delivery (lifecycleEvents$, decoded) ${rate(DELIVERY, delivery.sync)}, ` +
          `with an async onEvent ${rate(DELIVERY, delivery.async)}; raw subscription on the same events ${rate(DELIVERY, delivery.raw)}`,
      );
    }
    const [a, b] = [results.get(stores[0]![0])!, results.get(stores[1]![0])!];
    const ratio = (x: number, y: number) => (y / x).toFixed(2);
    report(
      `adapter / sqlite throughput: appends ${ratio(a.plain, b.plain)}, with command id ${ratio(a.command, b.command)}, ` +
        `catch-up ${ratio(a.subscribe, b.subscribe)}, readAll ${ratio(a.readAll, b.readAll)}, ` +
        `Observable delivery ${ratio(a.observable, b.observable)} (1.00 = as fast as sqlite)`,
    );
  } finally {
    await esdb.close();
    await sqlite.close();
    await standIn.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
