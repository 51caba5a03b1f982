import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from '../adapters/client/http.ts';
import { command, type CommandType } from '../domain/commands/index.ts';
import type { Actor } from '../domain/metadata.ts';
import { openCredence, openDataFolderSecureEnvironment, startLive, systemClock, systemRandom } from '../adapters/runtime/index.ts';
import type { ServerChild } from './http-child.ts';
import { fmtMs, now, summarise } from './stats.ts';
import { keysAhead } from './keys-ahead.ts';
import { WALL_CLOCK_STEPS, wallClockSubscription } from './wall-clock-lifecycle.ts';

/**
 * Item 1 of the http suite: commands/s through POST /v1/commands (32 keep-alive connections, autocannon) next to
 * engine.execute called directly by 32 concurrent callers, on the same composition (openCredence on a data
 * folder with its Secure Environment and the live runtime following the store), with the same command mix.
 */
export const CONNECTIONS = 32;
const WARM_UP_S = 2;
const MEASURE_S = Number(process.env['BENCH_HTTP_SECONDS'] ?? 6);
/** The principal's subject as the HTTP route makes it the actor. */
const ACTOR: Actor = { id: 'bench-operator', role: 'operator' };

/** Nodes a window may reach, per prefix and second: above the fastest run measured here (some 2,500 nodes/s direct). */
const NODES_PER_SECOND = 4_000;
/** The service credentials' keys of every node a run of `seconds` under `prefix` may reach, made before its clock starts. */
const keysFor = (prefix: string, seconds: number) => keysAhead(Array.from({ length: seconds * NODES_PER_SECOND }, (_, i) => `${prefix}-${i}-svc`));

/** One node's lifecycle, one command per step (as bench/engine.ts, without the revocations): `n` makes every id distinct. */
const STEPS = WALL_CLOCK_STEPS;
const subscription = wallClockSubscription;

/** A fresh node per pass of the sequence on each connection; ids are unique across connections and runs. */
const httpRun = async (server: ServerChild, prefix: string, seconds: number) => {
  let next = 0;
  const keys = keysFor(prefix, seconds);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${server.token}` };
  const result = await autocannon({
    url: server.url,
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 30,
    requests: STEPS.map((step, k) => ({
      method: 'POST',
      path: '/v1/commands',
      headers,
      setupRequest: (req, context) => {
        if (k === 0) context['i'] = next++;
        const i = context['i'] as number;
        const [type, data] = step(`${prefix}-${i}`, keys.key);
        return { ...req, body: JSON.stringify({ type, data }) };
      },
    })),
  });
  return { ...result, keysMadeInWindow: keys.madeInWindow };
};

const engineRun = async (execute: (type: CommandType, data: Record<string, unknown>) => Promise<unknown>, prefix: string, ms: number) => {
  let next = 0;
  const keys = keysFor(prefix, Math.ceil(ms / 1000));
  const latencies: number[] = [];
  const deadline = now() + ms;
  const start = now();
  const worker = async () => {
    while (now() < deadline) {
      const i = next++;
      for (const step of STEPS) {
        const [type, data] = step(`${prefix}-${i}`, keys.key);
        const t = now();
        await execute(type, data);
        latencies.push(now() - t);
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  return { count: latencies.length, ms: now() - start, keysMadeInWindow: keys.madeInWindow, ...summarise(latencies) };
};

/**
 * The engine without HTTP: the same composition as startService (adapters/http/start.ts) minus the server, with
 * the live runtime following the store as in the service, or without it (the engine alone, for reference).
 *
 * With the live runtime, the time it then takes to handle everything the window appended counts too (`catchUpMs`):
 * 32 callers awaiting nothing but the engine never give the event loop a turn, so the runtime's passes (which wait
 * for one) fall behind during the window and do their work after it. Counting only the window would compare HTTP,
 * whose server does that work between requests, with an engine that postpones it.
 */
const benchEngineDirect = async (withLive: boolean) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-bench-direct-'));
  const se = openDataFolderSecureEnvironment(dir, { now: () => systemClock.now() });
  const credence = openCredence({ location: { dir }, clock: systemClock, security: { se, random: systemRandom, actor: { id: 'maf:infrastructure', role: 'operator' } } });
  const live = withLive ? startLive(credence) : undefined;
  try {
    await live?.start();
    const execute = (type: CommandType, data: Record<string, unknown>) => credence.engine.execute(command(type, data, { actor: ACTOR }));
    await execute('createSubscription', subscription());
    const caughtUp = async (): Promise<number> => {
      const start = now();
      const head = await credence.store.headPosition();
      if (live !== undefined && head !== undefined && !(await live.caughtUp(head, 120_000))) throw new Error('the live runtime did not catch up within 120 s');
      return now() - start;
    };
    await engineRun(execute, 'warm', WARM_UP_S * 1000);
    await caughtUp();
    const run = await engineRun(execute, 'direct', MEASURE_S * 1000);
    return { ...run, catchUpMs: await caughtUp() };
  } finally {
    await live?.stop();
    await credence.close();
    se.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

/** Said only when the pool fell short: those keys were made inside the window, and the rate counts them. */
const madeInWindow = (count: number): string => (count > 0 ? ` (${count.toLocaleString('en-US')} keys made inside the window)` : '');

export const benchHttpCommands = async (report: (line: string) => void, server: ServerChild): Promise<void> => {
  const engineLine = (what: string, r: Awaited<ReturnType<typeof benchEngineDirect>>) =>
    `${what}: ${r.count.toLocaleString('en-US')} commands in ${(r.ms / 1000).toFixed(1)}s = ${Math.round((r.count / r.ms) * 1000).toLocaleString('en-US')}/s, p50 ${fmtMs(r.p50)}, p99 ${fmtMs(r.p99)}${madeInWindow(r.keysMadeInWindow)}`;
  const bare = await benchEngineDirect(false);
  report(engineLine(`engine.execute directly, lifecycle mix (6 commands a node), ${CONNECTIONS} concurrent callers, file store, no live runtime`, bare));
  const direct = await benchEngineDirect(true);
  const directRate = (direct.count / (direct.ms + direct.catchUpMs)) * 1000;
  report(
    `${engineLine(`engine.execute directly, same mix and callers, as composed by the service (Secure Environment, live runtime following)`, direct)}; ` +
      `the live runtime caught up ${fmtMs(direct.catchUpMs)} after the window: ${Math.round(directRate).toLocaleString('en-US')}/s with its work counted`,
  );

  await request(server.url, { path: '/v1/commands', token: server.token, body: { type: 'createSubscription', data: subscription() } });
  await httpRun(server, 'warm', WARM_UP_S);
  await server.caughtUp();
  const cpuStart = await server.cpuSeconds();
  const http = await httpRun(server, 'http', MEASURE_S);
  // As for the engine: the live runtime's work on what was appended counts, whenever the server did it.
  const httpCatchUpMs = await server.caughtUp();
  const cpuBusy = (await server.cpuSeconds()) - cpuStart;
  const httpRate = http['2xx'] / (http.duration + httpCatchUpMs / 1000);
  report(
    `POST /v1/commands, same mix, ${CONNECTIONS} keep-alive connections (autocannon), operator token: ${http['2xx'].toLocaleString('en-US')} commands in ${http.duration.toFixed(1)}s = ` +
      `${Math.round(http['2xx'] / http.duration).toLocaleString('en-US')}/s, p50 ${fmtMs(http.latency.p50)}, p99 ${fmtMs(http.latency.p99)}; non-2xx ${http.non2xx}, errors ${http.errors}, timeouts ${http.timeouts}${madeInWindow(http.keysMadeInWindow)}; ` +
      `the live runtime caught up ${fmtMs(httpCatchUpMs)} after the window: ${Math.round(httpRate).toLocaleString('en-US')}/s with its work counted; ` +
      `server CPU ${Math.round((cpuBusy / (http.duration + httpCatchUpMs / 1000)) * 100)}% of one core`,
  );
  report(
    `ratio HTTP / engine direct, both with the live runtime's work counted: ${(httpRate / directRate).toFixed(2)} (target >= 0.6); ` +
      `counting the windows only: ${(http['2xx'] / http.duration / ((direct.count / direct.ms) * 1000)).toFixed(2)}; HTTP / engine alone: ${(httpRate / ((bare.count / bare.ms) * 1000)).toFixed(2)}`,
  );
};
