import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceConfigInput } from '../adapters/http/config.ts';
import type { Chain } from './http-server.ts';

/** The service as the http benchmark drives it: a child process on 127.0.0.1, port 0, in a temp data folder. */
export interface ServerChild {
  readonly url: string;
  /** An operator's bearer token (subject bench-operator, one hour). */
  readonly token: string;
  /** Resident set size of the server process in MiB, read from /proc (from the process itself elsewhere). */
  rssMiB(): Promise<number>;
  /** CPU time the server process has used so far (user + system), seconds. */
  cpuSeconds(): Promise<number>;
  /** Heap used after a full GC, MiB. */
  heapAfterGcMiB(): Promise<number>;
  /** Runs fixture commands through the server's engine (chains in parallel, each in order), as the operator. */
  execute(chains: readonly Chain[]): Promise<void>;
  /** Waits until the server's live runtime has handled every stored event: how long that took, ms. */
  caughtUp(): Promise<number>;
  /** Log lines at warn level or above, so the bench can say whether the server complained. */
  warnings(): string[];
  /** Graceful shutdown, then the data folder removed. */
  close(): Promise<void>;
}

const MIB = 1024 * 1024;
const SERVER = fileURLToPath(new URL('./http-server.ts', import.meta.url));

const procRssMiB = (pid: number): number | undefined => {
  try {
    const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return line === null ? undefined : Number(line[1]) / 1024;
  } catch {
    return undefined;
  }
};

const reply = <T>(child: ChildProcess, type: string): Promise<T> =>
  new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      child.off('exit', onExit);
      child.off('message', onMessage);
      resolve(message as T);
    };
    const onExit = (code: number | null) => {
      child.off('message', onMessage);
      reject(new Error(`the bench server exited (${code}) before answering ${type}`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });

/** Forks bench/http-server.ts (inheriting `--import tsx`, `--expose-gc`) with `config` over the bench defaults. */
export const startServerChild = async (config: ServiceConfigInput): Promise<ServerChild> => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-bench-http-'));
  const child = fork(SERVER, [dir, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const warnings: string[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (/"level":(4|5|6)\d/.test(line)) warnings.push(line);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let ready: { url: string; token: string };
  try {
    ready = await reply(child, 'ready');
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const memory = async (gc: boolean) => {
    const pending = reply<{ usage: NodeJS.MemoryUsage; cpu: NodeJS.CpuUsage }>(child, 'memory');
    child.send({ type: 'memory', gc });
    return pending;
  };
  return {
    url: ready.url,
    token: ready.token,
    rssMiB: async () => procRssMiB(child.pid!) ?? (await memory(false)).usage.rss / MIB,
    cpuSeconds: async () => {
      const { cpu } = await memory(false);
      return (cpu.user + cpu.system) / 1e6;
    },
    heapAfterGcMiB: async () => (await memory(true)).usage.heapUsed / MIB,
    async execute(chains) {
      const pending = reply<{ error?: string }>(child, 'executed');
      child.send({ type: 'execute', chains });
      const { error } = await pending;
      if (error !== undefined) throw new Error(`fixture commands refused: ${error}`);
    },
    async caughtUp() {
      const pending = reply<{ ms: number; ok: boolean }>(child, 'caughtUp');
      child.send({ type: 'caughtUp' });
      const { ms, ok } = await pending;
      if (!ok) throw new Error('the live runtime of the bench server did not catch up within 120 s');
      return ms;
    },
    warnings: () => [...warnings],
    async close() {
      if (child.connected) child.send({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
