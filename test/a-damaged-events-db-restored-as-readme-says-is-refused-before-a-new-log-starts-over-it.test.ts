import { cpSync, existsSync, readdirSync, readFileSync, rmSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { cmd } from './support/fleet.ts';
import { moveTransparencyLogAside } from './support/restored-folder.ts';
import { startTestService } from './support/service.ts';
import { tempDirs, temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 350 #1: a damaged backup put in place as README's "Restoring the event store from a backup" says (events.db*
 * and transparency.* moved aside, replay-checkpoint.json deleted) started without a word: the read models were
 * rebuilt from it, a new log under a new key signed its history, and `credence verify --data` then found every event
 * matching. The start that is to begin a new log over an events.db that holds events checks the file first, and
 * refuses a damaged one (`damaged_database`, naming it) before anything is written; an undamaged backup still starts.
 */
const folder = temporaryFolders('credence-damaged-restore-');
const kept = tempDirs('credence-damaged-restore-served-');
afterAll(kept.cleanup);

const NODES = Array.from({ length: 40 }, (_, i) => `meter-${i + 1}`);

let served: string;
let backup: Buffer;
/** The ids of the NodeRegistered events, in the order of the log. */
let eventIds: string[];

beforeAll(async () => {
  served = kept.make();
  const svc = await startTestService({ dir: served });
  try {
    let last = 0n;
    for (const id of NODES) last = (await svc.service.context.credence.engine.execute(cmd.registerNode(id))).events.at(-1)!.position;
    if (!(await svc.service.context.live.caughtUp(last, 30_000))) throw new Error('the live runtime did not catch up');
  } finally {
    await svc.close();
  }
  const into = join(kept.make(), 'backup.db');
  const db = new Database(join(served, 'events.db'), { readonly: true });
  try {
    db.exec(`VACUUM INTO '${into}'`);
    eventIds = (db.prepare(`SELECT event_id AS id FROM events WHERE type = 'NodeRegistered' ORDER BY position`).all() as { id: string }[]).map((r) => r.id);
  } finally {
    db.close();
  }
  backup = readFileSync(into);
}, 120_000);

/** `backup` with the table row's copy of the event id in the middle of the log changed to a string that is no UUID. */
const eventIdFlipped = (): Buffer => {
  const copy = Buffer.from(backup);
  const id = eventIds[Math.floor(eventIds.length / 2)]!;
  // The id is in the table's row and in its UNIQUE index; the row is the copy followed by its type column.
  const row = copy.indexOf(Buffer.from(`${id}NodeRegistered`, 'latin1'));
  expect(row).toBeGreaterThan(0);
  copy.write('z', row + 8, 'latin1');
  return copy;
};

const DAMAGES: [string, () => Buffer][] = [
  ['a byte of an event row\'s event_id flipped mid-file', eventIdFlipped],
  ['its last 1,000 bytes cut', () => backup.subarray(0, backup.length - 1_000)],
  [
    'header byte 20 changed',
    () => {
      const copy = Buffer.from(backup);
      copy[20] = 16;
      return copy;
    },
  ],
];

/** A copy of the served folder with `events.db` restored from `file` as README says (steps 1 to 4). */
const restoredFolder = (file: Buffer): { dir: string; readModels: Buffer } => {
  const dir = folder();
  const aside = folder();
  cpSync(served, dir, { recursive: true });
  // Step 1: the old file moved aside with those beside it.
  for (const name of readdirSync(dir).filter((n) => n.startsWith('events.db'))) renameSync(join(dir, name), join(aside, name));
  // Step 2: the backup put in place.
  writeFileSync(join(dir, 'events.db'), file, { mode: 0o600 });
  // Step 3.
  rmSync(join(dir, 'replay-checkpoint.json'), { force: true });
  // Step 4: a new log under a new key.
  moveTransparencyLogAside(dir, aside);
  return { dir, readModels: readFileSync(join(dir, 'readmodels.db')) };
};

describe('a damaged events.db restored as README says', () => {
  it.each(DAMAGES)('is refused as damaged, %s, before anything is written', async (_what, damage) => {
    const { dir, readModels } = restoredFolder(damage());
    const refused = await startTestService({ dir }).then(
      async (svc) => {
        await svc.close();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(isCredenceError(refused, 'damaged_database'), String(refused)).toBe(true);
    expect(refused).toMatchObject({ problem: { path: join(dir, 'events.db'), file: 'events.db' } });
    expect((refused as Error).message).toMatch(/integrity check/);
    // No log started, no key made, no read model rebuilt.
    expect(readdirSync(dir).filter((n) => n.startsWith('transparency.'))).toEqual([]);
    expect(readFileSync(join(dir, 'readmodels.db')).equals(readModels)).toBe(true);
  }, 60_000);

  it('an undamaged backup still starts a new log over it', async () => {
    const { dir } = restoredFolder(backup);
    const svc = await startTestService({ dir });
    await svc.close();
    expect(existsSync(join(dir, 'transparency.pub'))).toBe(true);
  }, 60_000);
});
