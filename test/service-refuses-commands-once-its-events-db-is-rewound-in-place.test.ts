import Database from 'better-sqlite3';
import { copyFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 266 #1: a backup copied over <data>/events.db in place (`cp backup.db events.db`) on a running service keeps
 * the file's inode, so the dev/ino check of review 264 saw nothing. With the WAL emptied first, the service read the
 * backup and acknowledged new commands at positions it had given out before (Last-Event-ID resumption and the
 * transparency log's leaves no longer matched), and /readyz stayed 200. The service now also holds the store's head
 * to the highest position it has stored or read: lower is a file rewound in place, refused as one moved aside.
 * Review 266 #2: the check ran at live-runtime ticks only (`tickMs` up to an hour); /readyz now checks itself, and the
 * admission of commands at most once a second (on the engine's clock, advanced by hand here).
 */
// The folders first: afterEach hooks run last registered first, so each test's service is closed before its folder goes.
const folder = temporaryFolders('credence-events-db-');
let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
});

const registerNode = async (s: TestService, nodeId: string): Promise<{ status: number; body: Record<string, unknown> }> => {
  const reply = await fetch(`${s.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'registerNode', data: { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] } } }),
  });
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
};

/** The highest position the events.db at `file` holds, read without writing (its own -wal read too). */
const headIn = (file: string): bigint | null => {
  const db = new Database(file, { readonly: true });
  try {
    db.defaultSafeIntegers(true);
    return (db.prepare('SELECT MAX(position) AS head FROM events').get() as { head: bigint | null }).head;
  } finally {
    db.close();
  }
};

describe('a service whose events.db has a backup copied over it in place while it runs', () => {
  it('refuses the next command with 503 events_db_replaced, appends nothing and is not ready', async () => {
    const dir = folder();
    const aside = folder();
    const clock = new FakeClock(new Date());
    // Ticks an hour apart: what finds it is the command's own admission, not a tick.
    svc = await startTestService({ dir, clock, config: { tickMs: 3_600_000 } });
    expect((await registerNode(svc, 'meter-1')).status).toBe(201);

    const backup = join(aside, 'backup.db');
    const source = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      source.exec(`VACUUM INTO '${backup}'`);
    } finally {
      source.close();
    }
    expect((await registerNode(svc, 'meter-2')).status).toBe(201);
    expect((await registerNode(svc, 'meter-3')).status).toBe(201);
    // The WAL emptied into events.db from a second connection, then the backup copied over the file in place.
    const second = new Database(join(dir, 'events.db'));
    try {
      second.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      second.close();
    }
    copyFileSync(backup, join(dir, 'events.db'));
    const restored = headIn(backup);
    // A second later on the engine's clock: the admission's check is due (no tick of the live runtime waited for).
    clock.advance(1_000);

    const refused = await registerNode(svc, 'meter-4');
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ type: 'https://credence.dev/problems/events_db_replaced', status: 503 });
    expect(JSON.stringify(refused.body)).not.toContain(dir);
    const ready = await fetch(`${svc.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ check: 'events_db_replaced' });
    expect(await svc.service.context.credence.store.headPosition()).toBe(restored);
    expect(headIn(join(dir, 'events.db'))).toBe(restored);
    // Said once at error level, whatever else finds the store rewound (followers deriving again are refused too).
    const said = svc
      .logs()
      .map((line) => JSON.parse(line) as { level: number; err?: { code?: string } })
      .filter((entry) => entry.level >= 50 && entry.err?.code === 'events_db_replaced');
    expect(said).toHaveLength(1);
    expect(JSON.stringify(said[0])).toMatch(/events\.db .*rewound in place.*position 1, the service stored or read/);
  }, 60_000);
});

describe('a service whose live runtime ticks once an hour', () => {
  it('is not ready as soon as its events.db is moved aside, and refuses a command at once', async () => {
    const dir = folder();
    const aside = folder();
    svc = await startTestService({ dir, config: { tickMs: 3_600_000 } });
    expect((await registerNode(svc, 'meter-1')).status).toBe(201);
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
    for (const name of ['events.db', 'events.db-wal', 'events.db-shm']) renameSync(join(dir, name), join(aside, name));

    const ready = await fetch(`${svc.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ check: 'events_db_replaced' });
    expect((await registerNode(svc, 'meter-2')).status).toBe(503);
  }, 60_000);
});
