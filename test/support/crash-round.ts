import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCrashedFolder, type RoundFacts } from './crash-checks.ts';
import { mixSeed, prng, type WorkerConfig } from './crash-mix.ts';

/**
 * One round of the crash suite (issue 10): a worker runs the lifecycle mix on a fresh data folder and is killed
 * with SIGKILL at a seeded moment, once or several times (each later life resumes where the acks say), then the
 * folder is checked from this process (crash-checks.ts). Everything a round does follows from its seed.
 */

export interface LifePlan {
  /**
   * Count the delay from the worker's `ready` (folder open: the kill lands among commands, settles and
   * checkpoints) or from its `opening` (a short delay: the kill lands while it recovers and opens the folder).
   */
  readonly from: 'ready' | 'opening';
  readonly delayMs: number;
  /** Kill as soon as this many commands were acknowledged in this life, if that comes before the delay. */
  readonly untilAcks: number | undefined;
}

export interface RoundPlan {
  readonly seed: number;
  readonly mode: WorkerConfig['mode'];
  readonly lanes: number;
  readonly ackLagMs: number;
  readonly lives: readonly LifePlan[];
}

/** seed % 3 picks the kind: 0 store and engine only (killed once or twice), 1 openCredence killed once, 2 openCredence killed twice. */
export const planRound = (seed: number): RoundPlan => {
  const random = prng(seed);
  const kind = seed % 3;
  const lives = kind === 0 ? 1 + Math.floor(random() * 2) : kind === 1 ? 1 : 2;
  return {
    seed,
    mode: kind === 0 ? 'engine' : 'credence',
    lanes: 1 + Math.floor(random() * 3),
    ackLagMs: random() < 0.5 ? 0 : 1 + Math.floor(random() * 3),
    lives: Array.from({ length: lives }).reduce<LifePlan[]>((plans, _, i) => {
      // A folder killed while it is first created is then run with commands, so that a later kill has data to
      // recover; a folder with data may be killed while it is reopened (WAL recovery, the log and read models).
      const chance = i === 0 ? (lives > 1 ? 0.25 : 0) : plans[i - 1]!.from === 'opening' ? 0 : 0.5;
      const from = random() < chance ? 'opening' : 'ready';
      const delayMs = from === 'opening' ? Math.floor(random() * 40) : 150 + Math.floor(random() * 1350);
      return [...plans, { from, delayMs, untilAcks: random() < 0.4 ? 1 + Math.floor(random() * 300) : undefined }];
    }, []),
  };
};

/**
 * The seed of round `round`: with `fixedFirst`, round 0 runs `base` as it is (to rerun a failed seed); the others
 * derive theirs from it, turned so that consecutive rounds cycle through the three kinds.
 */
export const roundSeed = (base: number, round: number, fixedFirst: boolean): number => {
  if (round === 0 && fixedFirst) return base >>> 0;
  const derived = round === 0 ? base >>> 0 : mixSeed(base, round);
  const turned = derived - (derived % 3) + (round % 3);
  return turned > 0xffffffff ? turned - 3 : turned;
};

export interface LifeReport {
  readonly acks: number;
  /** ms from the plan's starting point to the kill; `beforeReady` when the worker had not opened the folder yet. */
  readonly killedAtMs: number;
  readonly beforeReady: boolean;
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = fileURLToPath(new URL('./crash-worker.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

/** Spawns the worker, kills it with SIGKILL as planned, and resolves once it is gone. */
export const runLife = (config: WorkerConfig, plan: LifePlan): Promise<LifeReport> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(config)], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    let startedAt: number | undefined;
    let ready = false;
    let acks = 0;
    let killed: LifeReport | undefined;
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = () => {
      if (killed !== undefined) return;
      killed = { acks, killedAtMs: Math.round(performance.now() - (startedAt ?? performance.now())), beforeReady: !ready };
      child.kill('SIGKILL');
    };
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(kill, ms);
    };
    arm(READY_TIMEOUT_MS);
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line === plan.from) {
          startedAt = performance.now();
          arm(plan.delayMs);
        }
        if (line === 'ready') {
          ready = true;
        } else if (line === 'a') {
          acks++;
          if (plan.untilAcks !== undefined && acks >= plan.untilAcks) kill();
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdin.on('error', () => undefined);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (killed !== undefined && signal === 'SIGKILL') {
        if (startedAt === undefined) reject(new Error(`the worker was not ${plan.from} after ${READY_TIMEOUT_MS} ms\n${stderr}`));
        else resolve(killed);
      } else {
        reject(new Error(`the worker ended by itself (code ${code}, signal ${signal}) before the kill:\n${stderr}`));
      }
    });
  });

export interface RoundReport {
  readonly plan: RoundPlan;
  readonly lives: readonly LifeReport[];
  readonly facts: RoundFacts | undefined;
  /** Everything that did not hold; empty when the round passed. */
  readonly problems: readonly string[];
  readonly ms: number;
  /** Of which: checking the folder after the last kill. */
  readonly checkMs: number;
}

/** Runs one seeded round in a temporary folder under os.tmpdir() and removes it afterwards. */
export const runRound = async (seed: number): Promise<RoundReport> => {
  const started = performance.now();
  const plan = planRound(seed);
  const root = mkdtempSync(join(tmpdir(), 'credence-crash-'));
  const config: WorkerConfig = { dir: join(root, 'data'), acksFile: join(root, 'acks'), seed, mode: plan.mode, lanes: plan.lanes, ackLagMs: plan.ackLagMs, epochMs: Date.now() };
  const lives: LifeReport[] = [];
  try {
    for (const life of plan.lives) lives.push(await runLife(config, life));
    const checking = performance.now();
    const { facts, problems } = await checkCrashedFolder({ config, rebuildDir: join(root, 'rebuild') });
    const done = performance.now();
    return { plan, lives, facts, problems, ms: Math.round(done - started), checkMs: Math.round(done - checking) };
  } catch (error) {
    const problem = `round aborted: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    return { plan, lives, facts: undefined, problems: [problem], ms: Math.round(performance.now() - started), checkMs: 0 };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
};

/** A line that says what a round did, for logs and the bench. */
export const describeRound = (r: RoundReport): string => {
  const kills = r.lives.map((l) => `${l.killedAtMs}ms${l.beforeReady ? ' (opening)' : ''}/${l.acks} acks`).join(', ');
  const f = r.facts;
  const log = f?.logged === undefined ? '' : ` (${f.logged} logged, ${f.signed} under a signed checkpoint)`;
  const figures = f === undefined ? '' : `; ${f.acked} acked, in flight ${f.inFlightPresent} present / ${f.inFlightAbsent} absent, ${f.events} events${log}`;
  return `seed ${r.plan.seed} (${r.plan.mode}, ${r.plan.lanes} lanes, ack lag ≤${r.plan.ackLagMs} ms): killed at ${kills}${figures}; ${r.ms} ms (checks ${r.checkMs} ms)`;
};
