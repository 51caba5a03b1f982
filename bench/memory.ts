import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { ExpectedRevision, type EventStore, type EventToAppend } from '../domain/ports/event-store.ts';
import { now, rate, summarise, fmtMs } from './stats.ts';
import { iso, OPERATOR } from './workloads.ts';
import { benchEnv, sizedVerdict } from './verdict.ts';

/**
 * Issue 15 item 3: memory with one million credentials in the store stays under 1 GB RSS while commands run. Fills
 * the store straight through the port (valid histories, group-committed, `durability: 'normal'` for the fill only),
 * then reopens it durable and runs 64 callers mixing commands (provision a credential) with reads of random
 * credentials through the engine's cache (its default 64 MiB bound), sampling RSS throughout.
 *
 *   BENCH_ONLY=memory npm run bench
 *   BENCH_MEMORY_CREDENTIALS (default 1,000,000), BENCH_MEMORY_COMMANDS (default 10,000), BENCH_MEMORY_READS (default 100,000)
 *
 * The verdict is "n/a (why)" below 1,000,000 credentials (the target's size) or 10,000 commands (this bench's
 * default: fewer leave the target's "while commands run" to the reads), bench/verdict.ts.
 */
const env = benchEnv;
const TARGET_CREDENTIALS = 1_000_000;
const TARGET_COMMANDS = 10_000;
const PER_NODE = 1000;
const fp = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;

const sampler = () => {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  return {
    stop: (): number => {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss()) / 2 ** 20;
    },
  };
};

const meta = (commandId: string, commandType: string, days: number, schemaVersion = 1) => ({
  schemaVersion, actor: OPERATOR, commandId, commandType, correlationId: commandId, causationId: commandId, occurredAt: iso(days),
});

/** Valid histories: a subscription, a node per thousand credentials (registered, enrolled), each credential issued. */
const fill = async (store: EventStore, credentials: number): Promise<number> => {
  const one = (stream: string, events: [string, Record<string, unknown>, string, number?][]) =>
    store.appendToStream(
      stream,
      events.map(([type, data, commandType, version], k): EventToAppend => {
        const id = eventIdFor(`fill-${stream}`, k);
        return { id, type, data: data as EventToAppend['data'], metadata: meta(id, commandType, 0, version) };
      }),
      { expectedRevision: ExpectedRevision.noStream },
    );
  await one('subscription-fill-sub', [['SubscriptionCreated', { subscriptionId: 'fill-sub', subscriber: 'bench', notBefore: iso(0), notAfter: iso(400) }, 'createSubscription']]);
  const nodes = Math.ceil(credentials / PER_NODE);
  for (let n = 0; n < nodes; n += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, nodes - n) }, (_, k) => {
        const nodeId = `fill-${n + k}`;
        return one(`node-${nodeId}`, [
          ['NodeRegistered', { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: [] } }, 'registerNode', 2],
          ['NodeEnrolled', { nodeId, subscriptionId: 'fill-sub', cseId: `/${nodeId}` }, 'enrolNode'],
        ]);
      }),
    );
  }
  for (let c = 0; c < credentials; c += 2000) {
    await Promise.all(
      Array.from({ length: Math.min(2000, credentials - c) }, (_, k) => {
        const i = c + k;
        const credentialId = `fill-${i}-c`;
        return one(`credential-${credentialId}`, [
          ['CredentialIssued', { credentialId, kind: 'p256', publicKey: `${'B'.repeat(86)}A`, purpose: 'service', owner: { kind: 'node', id: `fill-${Math.floor(i / PER_NODE)}` }, fingerprint: fp(i), notBefore: iso(0), notAfter: iso(365) }, 'issueCredential'],
        ]);
      }),
    );
  }
  return 1 + nodes * 2 + credentials;
};

export async function benchMemory(report: (line: string) => void): Promise<void> {
  const credentials = env('BENCH_MEMORY_CREDENTIALS', TARGET_CREDENTIALS);
  const commands = env('BENCH_MEMORY_COMMANDS', TARGET_COMMANDS);
  const reads = env('BENCH_MEMORY_READS', 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'credence-memory-'));
  try {
    const filling = sampler();
    const fillStore = openSqliteStoreInDir(dir, { durability: 'normal' });
    const started = now();
    const events = await fill(fillStore, credentials);
    const fillMs = now() - started;
    await fillStore.close();
    const fillPeak = filling.stop();
    const bytes = statSync(join(dir, 'events.db')).size;
    report(`memory: filled ${credentials.toLocaleString('en-US')} credentials (${events.toLocaleString('en-US')} events, ${(bytes / 2 ** 20).toFixed(0)} MiB file) in ${(fillMs / 1000).toFixed(1)}s = ${rate(events, fillMs)}, peak RSS ${fillPeak.toFixed(0)} MiB`);

    globalThis.gc?.();
    const running = sampler();
    const store = openSqliteStoreInDir(dir);
    const engine = createEngine({ store, clock: new FakeClock(iso(1)) });
    const latencies: number[] = [];
    const total = commands + reads;
    let next = 0;
    // A stride co-prime with the count walks distinct credentials in a scattered order.
    const pick = (k: number) => (k * 7_919 + 13) % credentials;
    const t0 = now();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        for (let k = next++; k < total; k = next++) {
          const credentialId = `fill-${pick(k)}-c`;
          // One command in every (reads/commands + 1) operations; the rest read a credential through the cache.
          if (commands > 0 && k % Math.max(1, Math.round(total / commands)) === 0) {
            const t = now();
            await engine.execute(command('provisionCredential', { credentialId, method: 'pre-provisioning' }, { actor: OPERATOR }));
            latencies.push(now() - t);
          } else {
            await engine.view('credential', credentialId);
          }
        }
      }),
    );
    const ms = now() - t0;
    await store.close();
    const peak = running.stop();
    const stats = engine.cacheStats();
    const { p99 } = summarise(latencies);
    report(
      `memory: ${latencies.length.toLocaleString('en-US')} durable commands and ${(total - latencies.length).toLocaleString('en-US')} reads by 64 callers over ${credentials.toLocaleString('en-US')} credentials in ${(ms / 1000).toFixed(1)}s ` +
        `(commands p99 ${fmtMs(p99)}); entity cache ${stats.entries.toLocaleString('en-US')} entries, ${(stats.bytes / 2 ** 20).toFixed(1)} of ${(stats.maxBytes / 2 ** 20).toFixed(0)} MiB, ` +
        `${stats.evictions.toLocaleString('en-US')} evictions, hit rate ${(stats.hitRate * 100).toFixed(1)}%; peak RSS ${peak.toFixed(0)} MiB`,
    );
    report(`memory: peak RSS while commands run with ${credentials.toLocaleString('en-US')} credentials stored: ${peak.toFixed(0)} MiB (target < 1024 MiB: ` +
        `${sizedVerdict(peak < 1024, [{ what: 'credentials', ran: credentials, needs: TARGET_CREDENTIALS }, { what: 'commands', ran: latencies.length, needs: TARGET_COMMANDS }], ['MET', 'MISSED'])})`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
