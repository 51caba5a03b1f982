import Database from 'better-sqlite3';
import { appendFileSync, copyFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive } from '../adapters/runtime/index.ts';
import { commandsRefusedOnceEventsDbReplaced, watchEventsDb } from '../adapters/runtime/events-db-replaced.ts';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 264 #4: README's restore steps (events.db and its -wal and -shm moved aside, the backup copied in place) done
 * on a running service. Its connection still held the file moved aside: a later command was acknowledged (201) into
 * that file, lost to the restored folder, and /readyz stayed ready. The service now notices, at its tick, that
 * <data>/events.db is no longer the file it has open: /readyz 503 `events_db_replaced`, every command refused 503
 * `events_db_replaced` with nothing written to either file, and one error line in its log.
 */
// The folders first: afterEach hooks run last registered first, so each test's service is closed before its folder goes.
const folder = temporaryFolders('credence-events-db-');
let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
});

const registerNode = async (s: TestService, nodeId: string): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }> => {
  const reply = await fetch(`${s.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'registerNode', data: { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] } } }),
  });
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown>, retryAfter: reply.headers.get('retry-after') };
};

/** How many events the events.db at `file` holds, read without writing (its own -wal read too, where there is one). */
const eventsIn = (file: string): bigint => {
  const db = new Database(file, { readonly: true });
  try {
    db.defaultSafeIntegers(true);
    return (db.prepare('SELECT count(*) AS n FROM events').get() as { n: bigint }).n;
  } finally {
    db.close();
  }
};

describe('a service whose events.db is moved aside and replaced while it runs', () => {
  it('is not ready, refuses every command with 503 events_db_replaced, writes to neither file and logs it once', async () => {
    const dir = folder();
    const aside = folder();
    svc = await startTestService({ dir });
    expect((await registerNode(svc, 'meter-1')).status).toBe(201);
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);

    // A backup, as README's online backup takes one, then README's restore steps 1-2 on the running service.
    const backup = join(aside, 'backup.db');
    const source = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      source.exec(`VACUUM INTO '${backup}'`);
    } finally {
      source.close();
    }
    const moved = join(aside, 'moved');
    mkdirSync(moved);
    for (const name of ['events.db', 'events.db-wal', 'events.db-shm']) renameSync(join(dir, name), join(moved, name));
    copyFileSync(backup, join(dir, 'events.db'));
    const store = svc.service.context.credence.store;
    const head = await store.headPosition();

    await vi.waitFor(
      async () => {
        const ready = await fetch(`${svc!.url}/readyz`);
        expect(ready.status).toBe(503);
        expect(await ready.json()).toMatchObject({ type: 'https://credence.dev/problems/not_ready', check: 'events_db_replaced' });
      },
      { timeout: 3_000, interval: 50 },
    );

    const refused = await registerNode(svc, 'meter-2');
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ type: 'https://credence.dev/problems/events_db_replaced', status: 503 });
    expect(String(refused.body['detail'])).toMatch(/events\.db.*(moved|replaced).*stopped before a restore, then started/);
    // No path of the server's in a public answer; and no retry mends it: the operator must act.
    expect(JSON.stringify(refused.body)).not.toContain(dir);
    expect(refused.retryAfter).toBeNull();
    // In-process callers of the engine (the device procedures, a program) are refused alike.
    await expect(svc.service.context.credence.engine.execute(cmd.registerNode('meter-3'))).rejects.toMatchObject({ code: 'events_db_replaced' });

    // Nothing written: the file moved aside (the one the service holds open) and the one put in its place.
    expect(await store.headPosition()).toBe(head);
    expect(eventsIn(join(moved, 'events.db'))).toBe(eventsIn(backup));
    expect(eventsIn(join(dir, 'events.db'))).toBe(eventsIn(backup));

    // One error line in the service's log, naming the file, at whatever tick or command came after.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const errors = svc
      .logs()
      .map((line) => JSON.parse(line) as { level: number; msg?: string; err?: { message?: string } })
      .filter((entry) => entry.level >= 50);
    expect(errors).toHaveLength(1);
    expect(JSON.stringify(errors[0])).toMatch(/events\.db .*(moved|replaced)/);
  }, 60_000);
});

describe('the check of the path against the file opened', () => {
  const noHead = async (): Promise<bigint | undefined> => undefined;

  it('tells a file moved aside from one put in its place, leaves a file written in place alone, and says it once', async () => {
    const dir = folder();
    const path = join(dir, 'events.db');
    writeFileSync(path, 'opened');
    const watch = watchEventsDb(path, noHead)!;
    const said: unknown[] = [];
    watch.whenFound((found) => said.push(found));
    appendFileSync(path, ', then written');
    expect(await watch.check()).toBeUndefined();
    renameSync(path, join(dir, 'aside.db'));
    expect(await watch.check()).toMatchObject({ code: 'events_db_replaced', found: 'missing' });
    expect(watch.replaced?.message).toMatch(/moved aside or deleted while it runs/);
    copyFileSync(join(dir, 'aside.db'), path);
    // Said once; kept whatever the path names after (the service must be started again).
    expect(await watch.check()).toBeUndefined();
    expect(watch.replaced?.found).toBe('missing');
    expect(said).toEqual([watch.replaced]);

    const another = watchEventsDb(join(dir, 'aside.db'), noHead)!;
    renameSync(path, join(dir, 'aside.db'));
    expect(await another.check()).toMatchObject({ found: 'another_file' });
    expect(watchEventsDb(join(dir, 'never-made.db'), noHead)).toBeUndefined();
  });

  it('tells a head found below a position given out (a file rewound in place), and nothing of a head it cannot read', async () => {
    const dir = folder();
    const path = join(dir, 'events.db');
    writeFileSync(path, 'opened');
    let head: bigint | undefined = 3n;
    let unreadable = false;
    const watch = watchEventsDb(path, async () => {
      if (unreadable) throw new Error('closed');
      return head;
    })!;
    expect(await watch.check()).toBeUndefined();
    watch.saw(5n);
    head = 5n;
    expect(await watch.check()).toBeUndefined();
    unreadable = true;
    expect(await watch.check()).toBeUndefined();
    unreadable = false;
    head = 4n;
    expect(await watch.check()).toMatchObject({ found: 'rewound', positions: { head: 4n, seen: 5n } });
    expect(watch.replaced?.message).toMatch(/rewound in place.*position 4, the service stored or read 5/);

    // A head read higher than any given out (another process appended) raises what it is held to.
    const other = watchEventsDb(path, async () => head)!;
    head = 9n;
    expect(await other.check()).toBeUndefined();
    head = undefined;
    expect(await other.check()).toMatchObject({ found: 'rewound', positions: { head: undefined, seen: 9n } });
  });

  it("a command's admission checks at most once per interval of the instants it is decided at, and waits for a check running", async () => {
    const dir = folder();
    const path = join(dir, 'events.db');
    writeFileSync(path, 'opened');
    let reads = 0;
    let answer: ((head: bigint) => void) | undefined;
    const watch = watchEventsDb(path, () => {
      reads++;
      return answer === undefined ? Promise.resolve(5n) : new Promise<bigint>((resolve) => (answer = resolve));
    })!;
    const admit = commandsRefusedOnceEventsDbReplaced(watch, 1_000);
    const command = cmd.registerNode('meter-1') as never;
    const at = (ms: number) => ({ asSystem: false, at: new Date(Date.UTC(2026, 11, 6) + ms) });
    await admit(command, at(0));
    expect(admit(command, at(999))).toBeUndefined();
    expect(reads).toBe(1);
    // Found by a check another caller started (its head read still running): a command admitted meanwhile waits for it.
    answer = () => undefined;
    const running = watch.check();
    const waiting = admit(command, at(999));
    expect(waiting).toBeInstanceOf(Promise);
    answer(4n);
    await expect(waiting).rejects.toMatchObject({ code: 'events_db_replaced', found: 'rewound' });
    expect(await running).toMatchObject({ found: 'rewound' });
    expect(() => admit(command, at(999))).toThrow(/rewound in place/);
    // A clock stepped back a second or more checks at once, as one a second ahead does.
    const again = watchEventsDb(path, async () => 1n)!;
    const admitAgain = commandsRefusedOnceEventsDbReplaced(again, 1_000);
    await admitAgain(command, at(5_000));
    expect(admitAgain(command, at(4_001))).toBeUndefined();
    renameSync(path, join(dir, 'moved.db'));
    await expect(admitAgain(command, at(3_000))).rejects.toMatchObject({ found: 'missing' });
  });
});

describe('what never watches a file for the service', () => {
  it('a store in memory under the live runtime takes commands tick after tick', async () => {
    const credence = openCredence({ location: { memory: true }, clock: new FakeClock(new Date('2026-12-06T10:00:00.000Z')) });
    const failures: unknown[] = [];
    const live = startLive(credence, { tickMs: 20, onError: (_component, error) => failures.push(error) });
    try {
      await live.start();
      await credence.engine.execute(cmd.registerNode('meter-1'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      await credence.engine.execute(cmd.registerNode('meter-2'));
      expect(await credence.store.headPosition()).toBeDefined();
      expect(failures).toEqual([]);
    } finally {
      await live.stop();
      await credence.close();
    }
  }, 30_000);

  it('a data folder opened without the live runtime (a CLI command) takes commands through its ticks', async () => {
    const dir = folder();
    const credence = openCredence({ location: { dir }, clock: new FakeClock(new Date('2026-12-06T10:00:00.000Z')), durability: 'normal' });
    try {
      await credence.engine.execute(cmd.registerNode('meter-1'));
      await credence.tick();
      await credence.engine.execute(cmd.registerNode('meter-2'));
      expect(eventsIn(join(dir, 'events.db'))).toBeGreaterThanOrEqual(2n);
    } finally {
      await credence.close();
    }
  }, 30_000);
});
