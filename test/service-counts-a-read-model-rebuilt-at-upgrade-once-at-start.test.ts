import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import type { ServiceContext } from '../adapters/http/context.ts';
import { startService, type RunningService } from '../adapters/http/start.ts';
import { LAG_COUNT_LIMIT } from '../adapters/runtime/live-lag.ts';
import { COMPLIANCE_EVENT_TYPES } from '../projections/compliance/index.ts';
import { cmd } from './support/fleet.ts';
import { enrolledFleetIn, eventsOf, writtenByTheVersionBefore } from './support/read-model-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A read model whose schema version changed is counted at start for its warning (read-model-rebuilds.ts: up to
 * LAG_COUNT_LIMIT events of the log read), then counted again by the live start for its lag. The live start takes the
 * warning's count when nothing was appended since, and counts again when something was.
 */
const scratch = temporaryFolders('credence-serve-counted-');
const NODES = 100;

const quiet = (): Writable => new Writable({ write: (_chunk, _encoding, done) => done() });

const start = (dir: string, routes: NonNullable<Parameters<typeof startService>[1]>['routes'] = []): Promise<RunningService> =>
  startService(
    serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'info', tickMs: 200, durability: 'normal', data: dir, limits: { maxEventLoopDelayMs: 0 } }),
    { logStream: quiet(), routes },
  );

/** A folder of a built fleet whose compliance read model was written by the version before. */
const upgradedFolder = async (): Promise<string> => {
  const dir = scratch();
  await enrolledFleetIn(dir, NODES);
  await (await start(dir)).close();
  writtenByTheVersionBefore(dir, 'compliance');
  return dir;
};

/**
 * Starts the service on `dir` with the compliance rebuild held: its full counts of the compliance lag (`afterCount` run
 * after each) and its lag while it rebuilds, then started.
 */
const startHoldingTheRebuild = async (dir: string, afterCount: (context: ServiceContext) => Promise<void> = async () => {}) => {
  let context!: ServiceContext;
  let counts = 0;
  let rebuilding!: () => void;
  const begun = new Promise<void>((resolve) => (rebuilding = resolve));
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const spy = (_app: unknown, c: ServiceContext): void => {
    context = c;
    const { runner } = c.credence;
    const lag = runner.lag.bind(runner);
    runner.lag = async (name, countLimit) => {
      const counted = await lag(name, countLimit);
      // The first catch-up's progress asks for one event only (first-catch-up.ts): no count.
      if (name === 'compliance' && countLimit === LAG_COUNT_LIMIT) {
        counts++;
        await afterCount(c);
      }
      return counted;
    };
    const catchUp = runner.catchUp.bind(runner);
    runner.catchUp = async (name) => {
      if (name === 'compliance') {
        rebuilding();
        await held;
      }
      return catchUp(name);
    };
  };
  const starting = start(dir, [spy]);
  try {
    await begun;
    const behind = context.live.lag(['compliance']).eventsBehind;
    release();
    const service = await starting;
    return { service, counts, behind };
  } catch (error) {
    release();
    await (await starting.catch(() => undefined))?.close();
    throw error;
  }
};

describe('a service started on a read model of another schema version', () => {
  it('counts what its rebuild reads once, for its warning and its lag', async () => {
    const dir = await upgradedFolder();

    const { service, counts, behind } = await startHoldingTheRebuild(dir);
    await service.close();

    expect(counts).toBe(1);
    expect(behind).toBe(eventsOf(dir, COMPLIANCE_EVENT_TYPES));
  }, 120_000);

  it('counts it again at the live start when an event was appended after its warning counted it', async () => {
    const dir = await upgradedFolder();

    // An enrolment appended once the warning has counted the compliance read model's backlog
    let appended = false;
    const { service, counts, behind } = await startHoldingTheRebuild(dir, async (c) => {
      if (appended) return;
      appended = true;
      await c.credence.engine.execute(cmd.registerNode('meter-late'));
      await c.credence.engine.execute(cmd.enrolNode('meter-late'));
    });
    await service.close();

    expect(counts).toBe(2);
    expect(behind).toBe(eventsOf(dir, COMPLIANCE_EVENT_TYPES));
  }, 120_000);
});
