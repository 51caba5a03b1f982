import { closeSync, existsSync, fdatasyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEngine, openCredence, openSqliteStoreInDir, type Clock, type Credence, type Engine } from '../../adapters/runtime/index.ts';
import { ackedPerLane, formatAck, laneCommands, mixSeed, parseAcks, prng, T0_MS, type MixCommand, type WorkerConfig } from './crash-mix.ts';

/**
 * The crash suite's child process (issue 10): runs the seeded lifecycle mix against a data folder until the
 * parent kills it with SIGKILL. After each execute() resolves it appends `<lane> <index> <command id>` to the
 * acks file and fsyncs it, so the parent knows exactly what was acknowledged before the kill. A later life resumes
 * every lane at its first unacknowledged command and resubmits it under the same id, as a client retrying would.
 *
 * stdout: `opening` before it opens the folder, `ready` once it is open, then one `a` per acknowledgement.
 * Exits non-zero on any refusal or error.
 * Usage: node --import tsx test/support/crash-worker.ts '<WorkerConfig as JSON>'
 */

const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
const fail = (message: string): never => {
  process.stderr.write(`crash-worker (seed ${config.seed}): ${message}\n`);
  process.exit(3);
};
process.on('unhandledRejection', (error) => fail(`unhandled: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`));
// The parent going away must not leave a worker writing forever.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

// The acks written by earlier lives; a line the kill cut short is dropped so that appends start on a fresh line.
const previous = existsSync(config.acksFile) ? readFileSync(config.acksFile, 'utf8') : '';
if (!previous.endsWith('\n') && previous.length > 0) truncateSync(config.acksFile, previous.lastIndexOf('\n') + 1);
const resumeAt = ackedPerLane(parseAcks(previous), config.lanes);
const acks = openSync(config.acksFile, 'a');

const clock: Clock = { now: () => new Date(T0_MS + 3_600_000 + (Date.now() - config.epochMs)) };
process.stdout.write('opening\n');
let credence: Credence | undefined;
let engine: Engine;
if (config.mode === 'credence') {
  credence = openCredence({ location: { dir: config.dir }, clock });
  engine = credence.engine;
} else {
  engine = createEngine({ store: openSqliteStoreInDir(config.dir), clock });
}
process.stdout.write('ready\n');

const acknowledge = (lane: number, index: number, c: MixCommand): void => {
  writeSync(acks, formatAck({ lane, index, commandId: c.metadata.commandId! }));
  fdatasyncSync(acks);
  process.stdout.write('a\n');
};

const runLane = async (lane: number): Promise<void> => {
  const lag = prng(mixSeed(config.seed, 104_729 + lane));
  let index = 0;
  const from = resumeAt[lane] ?? 0;
  for (const c of laneCommands(config.seed, config.lanes, lane)) {
    if (index < from) {
      index++;
      continue;
    }
    let outcome;
    try {
      outcome = await engine.execute(c);
    } catch (error) {
      return fail(`lane ${lane} #${index} ${c.type} ${c.metadata.commandId}: ${error instanceof Error ? error.message : String(error)}`);
    }
    // Only the first command of a resumed lane may have been recorded by the life the kill ended.
    if (outcome.deduplicated && index !== from) fail(`lane ${lane} #${index} ${c.type} was deduplicated but never sent before`);
    if (outcome.events.length !== 1) fail(`lane ${lane} #${index} ${c.type} recorded ${outcome.events.length} events`);
    if (config.ackLagMs > 0) await sleep(Math.floor(lag() * (config.ackLagMs + 1)));
    acknowledge(lane, index, c);
    index++;
    // better-sqlite3 is synchronous: without a turn of the event loop the settler's timers would never fire.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
};

/** In credence rounds: settle the projections and the log every few ms, and sign a checkpoint now and then. */
const settler = async (c: Credence): Promise<never> => {
  const random = prng(mixSeed(config.seed, 7919));
  for (;;) {
    await sleep(2 + Math.floor(random() * 40));
    await c.settle();
    if (random() < 0.25) await c.transparency?.checkpoint();
  }
};

await runLane(0);
if (credence !== undefined) void settler(credence);
await Promise.all(Array.from({ length: config.lanes }, (_, i) => runLane(i + 1)));
closeSync(acks);
fail('the endless mix ended');
