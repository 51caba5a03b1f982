/**
 * The service for the http benchmark, in a child process of its own (forked by bench/http-child.ts), so its
 * memory is its own to measure and its event loop does not share a thread with the load generator. Tells the
 * parent its URL and an operator token over IPC; answers `memory` with process.memoryUsage() (after a GC when
 * asked) and process.cpuUsage(), runs fixture commands through the engine on `execute` (chains in parallel, each chain in order, as
 * the operator), waits for the live runtime to have handled the head on `caughtUp`, and shuts down gracefully on
 * `close`.
 */
import { serviceConfig, type ServiceConfigInput } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { command, type CommandType } from '../domain/commands/index.ts';

export type Chain = readonly (readonly [CommandType, Record<string, unknown>])[];
export type ServerRequest =
  | { readonly type: 'memory'; readonly gc?: boolean }
  | { readonly type: 'execute'; readonly chains: readonly Chain[] }
  | { readonly type: 'caughtUp' }
  | { readonly type: 'close' };

const send = (message: unknown): void => void process.send?.(message);
const [dir, configJson] = process.argv.slice(2);
if (dir === undefined || configJson === undefined || process.send === undefined) throw new Error('bench/http-server.ts: forked with <data dir> <config JSON>');

const config = serviceConfig({ ...(JSON.parse(configJson) as ServiceConfigInput), host: '127.0.0.1', port: 0, data: dir });
const service = await startService(config);
const SUBJECT = 'bench-operator';
const { token } = await service.context.access.issue({ subject: SUBJECT, role: 'operator', ttlSeconds: 3600, issuedBy: 'bench' });
const { engine } = service.context.credence;

const execute = async (chains: readonly Chain[]): Promise<void> => {
  await Promise.all(
    chains.map(async (chain) => {
      for (const [type, data] of chain) await engine.execute(command(type, data, { actor: { id: SUBJECT, role: 'operator' } }));
    }),
  );
};

/** Waits until every live component has handled the head of the store; answers how long that took. */
const caughtUp = async (): Promise<{ ms: number; ok: boolean }> => {
  const start = performance.now();
  const head = await service.context.credence.store.headPosition();
  const ok = head === undefined || (await service.context.live.caughtUp(head, 120_000));
  return { ms: performance.now() - start, ok };
};

process.on('message', (message: ServerRequest) => {
  switch (message.type) {
    case 'memory':
      if (message.gc === true) (globalThis as { gc?: () => void }).gc?.();
      return send({ type: 'memory', usage: process.memoryUsage(), cpu: process.cpuUsage() });
    case 'execute':
      return void execute(message.chains).then(
        () => send({ type: 'executed' }),
        (error: unknown) => send({ type: 'executed', error: error instanceof Error ? error.message : String(error) }),
      );
    case 'caughtUp':
      return void caughtUp().then((answer) => send({ type: 'caughtUp', ...answer }));
    case 'close':
      return void service.close().then(() => process.disconnect());
  }
});
send({ type: 'ready', url: service.url, token });
