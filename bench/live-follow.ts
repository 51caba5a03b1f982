import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCredence, openDataFolderSecureEnvironment, startLive, systemClock, systemRandom } from '../adapters/runtime/index.ts';
import { command, type CommandType } from '../domain/commands/index.ts';
import { placeholderKey } from '../test/support/fleet.ts';
import { now, rate } from './stats.ts';
import { WALL_CLOCK_STEPS, wallClockSubscription } from './wall-clock-lifecycle.ts';

/**
 * `BENCH_ONLY=live-follow`: the service's composition (data folder, Secure Environment, live runtime following the
 * store) under 32 callers running the lifecycle mix, then how long the live runtime takes to handle what the window
 * appended: read models, the transparency log, and the reactions (a first pseudonym per registered node, the
 * association bookkeeping), each a command of its own. Durable (`full`, the default) and `normal` alternate in fresh
 * processes, so the share of the catch-up that is the reactions' syncs shows (docs/performance.md, forty-sixth round).
 * BENCH_LIVE_NODES (default 3,000 nodes, six commands each), BENCH_LIVE_PAIRS (default 2).
 */
const PHASE_FLAG = '--live-follow-phase';
const CALLERS = 32;
const n = (x: number) => x.toLocaleString('en-US');

/** Group commits the embedded store made so far (each one sync when durable). */
const groupCommits = (store: unknown): number => (store as { readonly groupStats?: { readonly groups: number } }).groupStats?.groups ?? Number.NaN;

/** Every node's lifecycle, its keys made now (before any clock starts). */
const lifecycles = (nodes: number): [CommandType, Record<string, unknown>][][] =>
  Array.from({ length: nodes }, (_, i) => WALL_CLOCK_STEPS.map((step) => step(`n-${i}`, placeholderKey)));

/** One run in this process: the window's commands, then the live runtime's catch-up, at `durability`. */
const runOnce = async (durability: 'full' | 'normal', nodes: number): Promise<string> => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-live-follow-'));
  const se = openDataFolderSecureEnvironment(dir, { now: () => systemClock.now() });
  const credence = openCredence({ location: { dir }, durability, clock: systemClock, security: { se, random: systemRandom, actor: { id: 'maf:infrastructure', role: 'operator' } } });
  const live = startLive(credence);
  try {
    await live.start();
    const actor = { id: 'bench-operator', role: 'operator' as const };
    const execute = (type: CommandType, data: Record<string, unknown>) => credence.engine.execute(command(type, data, { actor }));
    await execute('createSubscription', wallClockSubscription());
    // Built before the clock starts: a placeholder key is an Ed25519 multiplication, the bench's work, not the engine's.
    const all = lifecycles(nodes);
    const windowStart = (await credence.store.headPosition()) ?? 0n;
    let next = 0;
    const groups = groupCommits(credence.store);
    const start = now();
    await Promise.all(Array.from({ length: CALLERS }, async () => {
      for (let i = next++; i < nodes; i = next++) for (const [type, data] of all[i]!) await execute(type, data);
    }));
    const windowMs = now() - start;
    const atWindow = (await credence.store.headPosition()) ?? 0n;
    const caughtUpStart = now();
    // The reactions append as the runtime handles the window: caught up once the head stops moving under it.
    for (let head = atWindow; ; ) {
      if (!(await live.caughtUp(head, 600_000))) throw new Error('the live runtime did not catch up within 600 s');
      const after = (await credence.store.headPosition()) ?? 0n;
      if (after === head) break;
      head = after;
    }
    const catchUpMs = now() - caughtUpStart;
    const reactions = Number(((await credence.store.headPosition()) ?? 0n) - atWindow);
    const events = Number(((await credence.store.headPosition()) ?? 0n) - windowStart);
    return (
      `${durability}: ${n(nodes * 6)} commands in ${(windowMs / 1000).toFixed(2)}s = ${rate(nodes * 6, windowMs)}; the live runtime caught up ` +
      `${(catchUpMs / 1000).toFixed(2)}s after the window, its reactions appending ${n(reactions)} events after it; ` +
      `${rate(nodes * 6, windowMs + catchUpMs)} with its work counted; ${n(events)} events in ${n(groupCommits(credence.store) - groups)} group commits (one sync each when durable)`
    );
  } finally {
    await live.stop();
    await credence.close();
    se.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

const inChild = (durability: 'full' | 'normal', nodes: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [PHASE_FLAG, durability, String(nodes)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let line: string | undefined;
    child.on('message', (message) => {
      line = String(message);
    });
    child.on('error', reject);
    child.on('exit', (code) => (line !== undefined && code === 0 ? resolve(line) : reject(new Error(`live-follow bench (${durability}) exited with ${code}`))));
  });

export async function benchLiveFollow(report: (line: string) => void): Promise<void> {
  const nodes = Number(process.env['BENCH_LIVE_NODES'] ?? 3000);
  const pairs = Number(process.env['BENCH_LIVE_PAIRS'] ?? 2);
  report(`the lifecycle mix, ${n(CALLERS)} callers, ${n(nodes)} nodes, as composed by the service; durable and normal alternating in fresh processes`);
  for (let i = 0; i < pairs; i++) for (const durability of ['full', 'normal'] as const) report(await inChild(durability, nodes));
}

if (process.argv[2] === PHASE_FLAG) {
  const line = await runOnce(process.argv[3] === 'normal' ? 'normal' : 'full', Number(process.argv[4]));
  if (process.send !== undefined) process.send(line, () => process.exit(0));
  else process.stdout.write(`${line}\n`);
}
