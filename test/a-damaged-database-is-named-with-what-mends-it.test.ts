/**
 * Review 51, finding 3: a damaged database of the data folder (a truncated `readmodels.db` or `events.db`) made
 * `credence query`, `projections`, `replay` and `serve` print SQLite's bare `error: database disk image is malformed`,
 * naming no file, and `--json` printed nothing on stdout. What mends it depends on the file: `readmodels.db` is moved
 * aside and rebuilt from the events, `events.db` is the record and is restored from a backup. Now each is a
 * `damaged_database` refusal (exit 1) naming the file's path and what mends THAT file, as JSON on stdout with
 * `--json`, and a 503 problem naming the file (never its path) when the service meets it at a request.
 */
import { closeSync, cpSync, mkdtempSync, openSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rememberDatabaseFile } from '../adapters/driven/files/damaged-database.ts';
import { problemDocumentOf } from '../adapters/http/problems.ts';
import { openCredence, systemClock } from '../adapters/runtime/index.ts';
import { runCli } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { startServe } from './support/serve-process.ts';

const root = mkdtempSync(join(tmpdir(), 'credence-damaged-db-'));
const healthy = join(root, 'healthy');
let copies = 0;

/** A copy of the healthy folder (events in events.db, read models built in readmodels.db). */
const folder = (): string => {
  const dir = join(root, `copy-${++copies}`);
  cpSync(healthy, dir, { recursive: true });
  return dir;
};

/** The file cut to half its size, as a copy interrupted or a disk that filled up leaves it. */
const truncated = (dir: string, file: string): string => {
  const path = join(dir, file);
  truncateSync(path, Math.floor(statSync(path).size / 2));
  return path;
};

/** The pages of one table overwritten, the file's size and first page (its schema) kept: it opens, and fails when read. */
const damagedTable = (dir: string, file: string, table: string): string => {
  const path = join(dir, file);
  const db = new Database(path, { readonly: true });
  const pageSize = Number(db.pragma('page_size', { simple: true }));
  const pages = db.prepare('SELECT pageno FROM dbstat WHERE name = ?').pluck().all(table) as number[];
  db.close();
  const fd = openSync(path, 'r+');
  for (const page of pages) writeSync(fd, Buffer.alloc(16, 0xff), 0, 16, (page - 1) * pageSize);
  closeSync(fd);
  return path;
};

const READ_MODELS_REMEDY = /move it aside \(with its -wal and -shm\) and start again: it is rebuilt from the events/;
const EVENTS_REMEDY = /restore it from a backup/;
const STACK = /^\s+at /m;

beforeAll(async () => {
  const credence = openCredence({ location: { dir: healthy }, clock: systemClock });
  for (let i = 0; i < 200; i++) await credence.engine.execute(cmd.registerNode(`meter-${i}`));
  await credence.settle();
  await credence.close();
  // The read models built, as a service leaves them.
  expect((await runCli(['query', 'revocations', '--data', healthy])).code).toBe(0);
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a damaged database of the data folder', () => {
  it.each([['query', 'revocations'], ['projections']])('a truncated readmodels.db: credence %s names it and says to move it aside, rebuilt from the events', async (...args) => {
    const dir = folder();
    const path = truncated(dir, 'readmodels.db');
    const run = await runCli([...args, '--data', dir]);
    expect(run.code).toBe(1);
    expect(run.err).toContain(`refused (damaged_database): the database ${path} is damaged (SQLITE_CORRUPT`);
    expect(run.err).toMatch(READ_MODELS_REMEDY);
    expect(run.err).not.toMatch(STACK);
    expect(run.out).toBe('');
  });

  it.each([['query', 'revocations'], ['projections'], ['replay']])('a truncated events.db: credence %s names it and says to restore it from a backup', async (...args) => {
    const dir = folder();
    const path = truncated(dir, 'events.db');
    const run = await runCli([...args, '--data', dir]);
    expect(run.code).toBe(1);
    expect(run.err).toContain(`the database ${path} is damaged`);
    expect(run.err).toMatch(EVENTS_REMEDY);
    expect(run.err).not.toMatch(READ_MODELS_REMEDY);
    expect(run.err).not.toMatch(STACK);
  });

  it('with --json, the refusal is printed as JSON on stdout: the problem, the file, its path and what mends it', async () => {
    const dir = folder();
    const path = truncated(dir, 'readmodels.db');
    const run = await runCli(['query', 'revocations', '--json', '--data', dir]);
    expect(run.code).toBe(1);
    const problem = JSON.parse(run.out) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: 'https://credence.dev/problems/damaged_database', status: 503, file: 'readmodels.db', path });
    expect(problem['detail']).toContain(path);
    expect(problem['remedy']).toMatch(READ_MODELS_REMEDY);
  });

  it('met at a statement after the file opened, the damaged file is located and named: replay on damaged events', async () => {
    const dir = folder();
    const path = damagedTable(dir, 'events.db', 'events');
    const run = await runCli(['replay', '--data', dir]);
    expect(run.code).toBe(1);
    expect(run.err).toContain(`refused (damaged_database): the database ${path} is damaged`);
    expect(run.err).toMatch(EVENTS_REMEDY);
    expect(run.err).not.toMatch(STACK);
  });

  it('credence serve on a truncated readmodels.db exits 1, saying which file and what mends it', async () => {
    const dir = folder();
    const path = truncated(dir, 'readmodels.db');
    const serve = startServe(['--data', dir, '--port', '0', '--log-level', 'warn'], { PORT: '' }, /^Credence listening on /m);
    await expect(serve.ready).rejects.toThrow(/serve ended early/);
    expect(await serve.exitCode()).toBe(1);
    expect(serve.err).toContain(`the database ${path} is damaged`);
    expect(serve.err).toMatch(READ_MODELS_REMEDY);
    expect(serve.err).not.toMatch(STACK);
  }, 60_000);

  it('met by the service at a request, it is a 503 problem naming the file, never its path', () => {
    const dir = folder();
    const path = damagedTable(dir, 'readmodels.db', 'entities');
    rememberDatabaseFile(path);
    const db = new Database(path, { readonly: true });
    let thrown: unknown;
    try {
      db.prepare('SELECT * FROM entities').all();
    } catch (error) {
      thrown = error;
    } finally {
      db.close();
    }
    expect(thrown).toMatchObject({ code: 'SQLITE_CORRUPT' });
    const problem = problemDocumentOf(thrown);
    expect(problem).toMatchObject({ type: 'https://credence.dev/problems/damaged_database', status: 503, file: 'readmodels.db' });
    expect(JSON.stringify(problem)).not.toContain(dir);
  });
});
