import { setMaxListeners } from 'node:events';
import { request } from '../adapters/client/http.ts';
import { subscribeEvents } from '../adapters/client/sse.ts';
import type { ServerChild } from './http-child.ts';
import { now } from './stats.ts';

/**
 * Item 3 of the http suite: 200 SSE subscribers on GET /v1/events while commands are appended over HTTP. Counts
 * the events delivered to all of them per second, and samples the server process's resident memory before,
 * while and after, which should stay flat: each stream costs a socket, a store subscription holding at most one
 * page, and one event in flight (adapters/http/sse/writer.ts).
 */
const SUBSCRIBERS = Number(process.env['BENCH_HTTP_SUBSCRIBERS'] ?? 200);
const APPEND_MS = Number(process.env['BENCH_HTTP_APPEND_SECONDS'] ?? 12) * 1000;
const APPENDERS = 4;
const DRAIN_GUARD_MS = 30_000;
const CONNECT_GUARD_MS = 60_000;
const DAY = 86_400_000;
const fromNow = (days: number) => new Date(Date.now() + days * DAY).toISOString();
const mib = (n: number) => `${n.toFixed(0)} MiB`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const benchHttpSubscribers = async (report: (line: string) => void, server: ServerChild): Promise<void> => {
  const rssBefore = await server.rssMiB();
  const heapBefore = await server.heapAfterGcMiB();
  const stop = new AbortController();
  // Every subscriber listens on it: that many listeners is the point here, not a leak.
  setMaxListeners(SUBSCRIBERS + 16, stop.signal);
  const counts = new Array<number>(SUBSCRIBERS).fill(0);
  let reconnects = 0;
  let lastDelivery = 0;
  let opened = 0;
  let allOpen: () => void = () => undefined;
  const connected = new Promise<void>((resolve) => (allOpen = resolve));
  const readers = counts.map(async (_, i) => {
    let first = true;
    const onFrame = () => {
      if (first && ++opened === SUBSCRIBERS) allOpen();
      first = false;
    };
    const path = '/v1/events?type=SubscriptionCreated&from=end';
    for await (const _event of subscribeEvents(server.url, { path, token: server.token, signal: stop.signal, onFrame, onReconnect: () => void reconnects++ })) {
      counts[i]! += 1;
      lastDelivery = now();
    }
  });
  // Settled below; until then a reader's failure (a token expired in a stuck run) must not end the process unhandled,
  // which left the server child running.
  for (const reader of readers) reader.catch(() => undefined);
  // A stream refused (429 too_many_streams) retries for ever: a run that cannot open them all says so, never hangs.
  const opening = await Promise.race([connected.then(() => 'open' as const), sleep(CONNECT_GUARD_MS).then(() => 'stuck' as const)]);
  if (opening === 'stuck') {
    stop.abort();
    await Promise.allSettled(readers);
    throw new Error(`only ${opened} of ${SUBSCRIBERS} SSE subscribers opened within ${CONNECT_GUARD_MS / 1000}s (${reconnects} reconnects): check limits.maxSseStreams and maxSseStreamsPerPrincipal in bench/http.ts`);
  }
  await sleep(500);
  const rssConnected = await server.rssMiB();

  // Appending: a few operators' worth of createSubscription commands, as fast as the server takes them.
  let appended = 0;
  const samples: number[] = [];
  const cpuStart = await server.cpuSeconds();
  const start = now();
  const deadline = start + APPEND_MS;
  const sampler = setInterval(() => void server.rssMiB().then((rss) => samples.push(rss)), 500);
  await Promise.all(
    Array.from({ length: APPENDERS }, async (_, w) => {
      for (let i = 0; now() < deadline; i++) {
        const subscriptionId = `fan-${w}-${i}`;
        await request(server.url, { path: '/v1/commands', token: server.token, body: { type: 'createSubscription', data: { subscriptionId, subscriber: 'bench', notBefore: fromNow(-1), notAfter: fromNow(365) } } });
        appended++;
      }
    }),
  );
  const appendMs = now() - start;
  const drainDeadline = now() + DRAIN_GUARD_MS;
  while (counts.some((c) => c < appended) && now() < drainDeadline) await sleep(20);
  clearInterval(sampler);
  const delivered = counts.reduce((a, b) => a + b, 0);
  const complete = counts.every((c) => c === appended);
  const deliveryMs = lastDelivery - start;
  const cpuBusy = (await server.cpuSeconds()) - cpuStart;
  const rssEnd = await server.rssMiB();
  const heapOpen = await server.heapAfterGcMiB();

  stop.abort();
  await Promise.allSettled(readers);
  await sleep(1000);
  const heapAfter = await server.heapAfterGcMiB();
  const rssAfter = await server.rssMiB();

  const quarter = (k: number) => samples[Math.min(samples.length - 1, Math.round((k * (samples.length - 1)) / 4))] ?? Number.NaN;
  report(
    `${SUBSCRIBERS} SSE subscribers (one operator token), ${APPENDERS} clients appending over HTTP: ${appended.toLocaleString('en-US')} commands in ${(appendMs / 1000).toFixed(1)}s ` +
      `(${Math.round((appended / appendMs) * 1000).toLocaleString('en-US')}/s), ${delivered.toLocaleString('en-US')} events delivered in ${(deliveryMs / 1000).toFixed(1)}s = ` +
      `${Math.round((delivered / deliveryMs) * 1000).toLocaleString('en-US')} events/s; every subscriber got every event: ${complete ? 'yes' : `no (min ${Math.min(...counts)})`}, reconnects ${reconnects}; ` +
      `server CPU ${Math.round((cpuBusy / (deliveryMs / 1000)) * 100)}% of one core`,
  );
  report(
    `server RSS: before ${mib(rssBefore)}, ${SUBSCRIBERS} streams open ${mib(rssConnected)}, while appending ${[0, 1, 2, 3, 4].map((k) => mib(quarter(k))).join(' / ')} ` +
      `(max ${mib(Math.max(...samples))}), streams drained ${mib(rssEnd)}, streams closed ${mib(rssAfter)}; heap after GC ${mib(heapBefore)} before, ${mib(heapOpen)} after appending (streams open), ${mib(heapAfter)} streams closed`,
  );
};
