import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import type { ServiceContext } from '../adapters/http/context.ts';
import { startService, type RunningService, type StartOptions } from '../adapters/http/start.ts';
import { COMPLIANCE_EVENT_TYPES } from '../projections/compliance/index.ts';
import { enrolledFleetIn } from './support/read-model-folder.ts';
import { closedPort as freePort } from './support/closed-port.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * The service made its live runtime (which read each read model's checkpoint) before the start's log and rules checks
 * (read-model-rebuilds.ts), which may reset a read model and delete its checkpoint. A read model reset there whose old
 * checkpoint was the head was taken at start as handled through the head: its backlog was not counted, and its status
 * and /metrics said it 0 events behind, with its old checkpoint, for the whole of its rebuild from position 0.
 */
const scratch = temporaryFolders('credence-serve-reset-');
const NODES = 100;

const count = (dir: string, sql: string, ...params: unknown[]): number => {
  const db = new Database(join(dir, 'events.db'), { readonly: true });
  try {
    return (db.prepare(sql).get(...params) as { n: number }).n;
  } finally {
    db.close();
  }
};

/** The events of `types` in the folder's store: what a rebuild of their read model reads. */
const eventsOf = (dir: string, types: readonly string[]): number =>
  count(dir, `SELECT count(*) AS n FROM events WHERE type IN (${types.map(() => '?').join(', ')})`, ...types);

const checkpointOf = (dir: string, name: string): { position: number; event_id: string | null } | undefined => {
  const db = new Database(join(dir, 'readmodels.db'), { readonly: true });
  try {
    return db.prepare('SELECT position, event_id FROM projection_checkpoints WHERE name = ?').get(name) as { position: number; event_id: string | null } | undefined;
  } finally {
    db.close();
  }
};

/** What a read model built from another log leaves: a checkpoint on the head's position that names another event. */
const builtFromAnotherLog = (dir: string, name: string): number => {
  const head = count(dir, 'SELECT max(position) AS n FROM events');
  const db = new Database(join(dir, 'readmodels.db'));
  try {
    db.prepare("UPDATE projection_checkpoints SET position = ?, event_id = 'an-event-of-another-log' WHERE name = ?").run(head, name);
  } finally {
    db.close();
  }
  return head;
};

const quiet = (): Writable => new Writable({ write: (_chunk, _encoding, done) => done() });

const start = (dir: string, probePort: number, options: StartOptions = {}): Promise<RunningService> =>
  startService(
    serviceConfig({ host: '127.0.0.1', port: 0, probePort, logLevel: 'info', tickMs: 200, durability: 'normal', data: dir, limits: { maxEventLoopDelayMs: 0 } }),
    { logStream: quiet(), ...options },
  );

const lagOnMetrics = async (probeUrl: string, component: string): Promise<number> => {
  const text = await (await fetch(`${probeUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`credence_projection_lag_events{component="${component}"}`));
  if (line === undefined) throw new Error(`no lag of ${component} on /metrics`);
  return Number(line.split(' ').at(-1));
};

describe('a service whose start resets a read model caught up to the head', () => {
  it('reports it behind by everything it rebuilds until its rebuild has read it, then rebuilds it from position 0', async () => {
    // Given a folder whose read models are built up to the head
    const dir = scratch();
    await enrolledFleetIn(dir, NODES);
    await (await start(dir, await freePort())).close();
    // And the compliance read model's checkpoint naming, at the head's position, an event of another log
    const head = builtFromAnotherLog(dir, 'compliance');

    // When the service starts, the compliance rebuild held once it has begun
    let context: ServiceContext | undefined;
    let rebuilding!: () => void;
    const begun = new Promise<void>((resolve) => (rebuilding = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const holdTheRebuild = (_app: unknown, c: ServiceContext): void => {
      context = c;
      const catchUp = c.credence.runner.catchUp.bind(c.credence.runner);
      c.credence.runner.catchUp = async (name) => {
        if (name === 'compliance') {
          rebuilding();
          await held;
        }
        return catchUp(name);
      };
    };
    const probePort = await freePort();
    const starting = start(dir, probePort, { routes: [holdTheRebuild] });
    let service: RunningService | undefined;
    try {
      await begun;

      // Then, while it rebuilds, it is behind by every event of its types, and has handled none
      const toRead = eventsOf(dir, COMPLIANCE_EVENT_TYPES);
      expect(toRead).toBeGreaterThanOrEqual(NODES);
      expect(context!.live.lag(['compliance']).eventsBehind).toBe(toRead);
      expect((await context!.live.status()).find((s) => s.name === 'compliance')).toMatchObject({ checkpoint: undefined, eventsBehind: toRead });
      expect(await lagOnMetrics(`http://127.0.0.1:${probePort}`, 'compliance')).toBe(toRead);
      expect(await context!.live.caughtUp(BigInt(head), 0, ['compliance'])).toBe(false);

      // And once started it has read them all again, from position 0, up to the event the store holds at the head
      release();
      service = await starting;
      expect(context!.live.lag(['compliance'])).toEqual({ eventsBehind: 0, secondsBehind: 0 });
      expect(checkpointOf(dir, 'compliance')?.event_id).not.toBe('an-event-of-another-log');
      expect((await context!.live.status()).find((s) => s.name === 'compliance')).toMatchObject({ eventsBehind: 0 });
    } finally {
      release();
      service ??= await starting.catch(() => undefined);
      await service?.close();
    }
  }, 120_000);
});
