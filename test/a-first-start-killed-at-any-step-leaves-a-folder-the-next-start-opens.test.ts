import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signingKeyHandles } from '../adapters/driven/access/signing-key-handles.ts';
import { ACCESS_DB_FILE, openAccessRegistry } from '../adapters/driven/access/index.ts';
import { atomicWriteTempOf, removeAtomicWriteStrays } from '../adapters/driven/files/index.ts';
import { STRAY_AGE_MS } from '../adapters/driven/files/atomic-write-strays.ts';
import { KEY_REGISTRY_DB_FILE, SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A first open set the journal mode (WAL) before it made the schema: a first start killed in between left keys.db or
 * access.db as one page with no table, which the key registry refuses at start (and key list for access.db), since a
 * copy made without its -wal looks the same: the operator had to move the file aside by hand. A missing file is now
 * made whole or not at all (its schema built in memory, written beside it under writeFileAtomic's temp name and
 * linked into place), and the schema comes before the journal mode. Each test kills a first open before each of its
 * steps in turn (test/support/kill-during-first-open.ts) and starts again on what the kill left.
 */
const scratch = temporaryFolders('credence-first-open-');
const CHILD = 'test/support/kill-during-first-open.ts';

type Target = 'keys' | 'access' | 'readmodels';

interface Run {
  readonly signal: NodeJS.Signals | null;
  readonly code: number | null;
  readonly pid: number;
  readonly stdout: string;
  readonly stderr: string;
}

const run = (target: Target, dir: string, nth: number): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, target, dir, String(nth)]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ signal, code, pid: child.pid!, stdout, stderr }));
  });

/** The steps a whole first open of `target` takes, from a run that is never killed. */
const stepsOf = async (target: Target): Promise<string[]> => {
  const whole = await run(target, scratch(), Number.MAX_SAFE_INTEGER);
  expect(whole.stderr).toBe('');
  expect(whole.code).toBe(0);
  return (JSON.parse(whole.stdout) as { steps: string[] }).steps;
};

/** Each step's kill, on a folder of its own (made by `prepare`), a few at a time: the folder and the killed run. */
const killedAtEachStep = async (target: Target, steps: readonly string[], prepare: (dir: string) => void = () => {}) => {
  const killed: { step: string; dir: string; run: Run }[] = [];
  for (let first = 0; first < steps.length; first += 6) {
    const batch = steps.slice(first, first + 6).map(async (step, i) => {
      const dir = scratch();
      prepare(dir);
      return { step: `${first + i + 1}: ${step}`, dir, run: await run(target, dir, first + i + 1) };
    });
    killed.push(...(await Promise.all(batch)));
  }
  for (const k of killed) expect(k.run.signal, `${k.step}: ${k.run.stderr}`).toBe('SIGKILL');
  return killed;
};

/** The tables of the database at `path` and its schema version, read-only. */
const schemaOf = (path: string): { tables: string[]; version: number } => {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
    return { tables, version: Number(db.pragma('user_version', { simple: true })) };
  } finally {
    db.close();
  }
};

/**
 * What a kill of `pid` left beside `file` other than the file and its -wal/-shm: only temps of that file under
 * writeFileAtomic's name, which the sweep of the folder removes once they are old (they are backdated here).
 */
const expectOnlyStraysTheSweepRemoves = (dir: string, file: string, pid: number, step: string): void => {
  const others = readdirSync(dir).filter((name) => ![file, `${file}-wal`, `${file}-shm`].includes(name));
  for (const name of others) expect(atomicWriteTempOf(name), `${step}: ${name}`).toEqual({ target: file, pid });
  const old = new Date(Date.now() - 2 * STRAY_AGE_MS);
  for (const name of others) utimesSync(join(dir, name), old, old);
  expect(removeAtomicWriteStrays(dir, []).sort(), step).toEqual(others.sort());
};

const KEY_TABLES = ['key_pair_provisioning_runs', 'pseudonym_epoch_marks', 'se_key_destroy_failures', 'se_key_handles'];
const ACCESS_TABLES = ['settings', 'signing_keys', 'tokens'];

/**
 * What is wrong after a kill at `step`: what it left at `path` (read before anything opens it again) is neither no
 * file nor one of `whole` schema, or the next start (`start`) failed. Every step is tried before the test judges, so
 * that a failure names each step that went wrong.
 */
const afterKill = (step: string, path: string, whole: { tables: string[]; version: number }, start: () => void): string[] => {
  const left = existsSync(path) ? schemaOf(path) : undefined;
  const problems: string[] = [];
  if (left !== undefined && JSON.stringify(left) !== JSON.stringify(whole)) problems.push(`${step}: left ${JSON.stringify(left)}`);
  try {
    start();
  } catch (error) {
    problems.push(`${step}: the next start failed: ${(error as Error).message}`);
  }
  return problems;
};

describe('a first start killed at any step of making keys.db', () => {
  const nextStart = (dir: string) => () => {
    const registry = SqliteKeyRegistry.open({ dir });
    try {
      registry.register('ef', 'handle-1', 'signing');
      expect(registry.live('ef')).toEqual(['handle-1']);
    } finally {
      registry.close();
    }
  };

  it('leaves no keys.db or one with its whole schema, and the next start opens it with nothing to repair', async () => {
    const steps = await stepsOf('keys');
    expect(steps).toContain('pragma(journal_mode = WAL)');
    const problems: string[] = [];
    for (const { step, dir, run: killed } of await killedAtEachStep('keys', steps)) {
      problems.push(...afterKill(step, join(dir, KEY_REGISTRY_DB_FILE), { tables: KEY_TABLES, version: 2 }, nextStart(dir)));
      expectOnlyStraysTheSweepRemoves(dir, KEY_REGISTRY_DB_FILE, killed.pid, step);
    }
    expect(problems).toEqual([]);
  }, 240_000);

  it('on a zero-length keys.db an earlier version left: the next start opens it with nothing to repair', async () => {
    const empty = (dir: string) => writeFileSync(join(dir, KEY_REGISTRY_DB_FILE), '', { mode: 0o600 });
    const dir = scratch();
    empty(dir);
    const steps = (JSON.parse((await run('keys', dir, Number.MAX_SAFE_INTEGER)).stdout) as { steps: string[] }).steps;
    const problems: string[] = [];
    for (const { step, dir: killedIn } of await killedAtEachStep('keys', steps, empty)) {
      // The zero-length file it starts from is left as it was by a kill before SQLite's first write.
      const path = join(killedIn, KEY_REGISTRY_DB_FILE);
      const start = nextStart(killedIn);
      if (statSync(path).size === 0) start();
      else problems.push(...afterKill(step, path, { tables: KEY_TABLES, version: 2 }, start));
    }
    expect(problems).toEqual([]);
  }, 240_000);
});

describe('a first start killed inside its schema transaction on a zero-length keys.db an earlier version left', () => {
  // That transaction runs in rollback mode (the schema before WAL): a kill inside it leaves a hot journal, which a
  // read-only connection cannot roll back (SQLITE_READONLY_ROLLBACK), and the start reads keys.db read-only first.
  it('the next start rolls it back and opens it with nothing to repair', () => {
    const making = scratch();
    const path = join(making, KEY_REGISTRY_DB_FILE);
    writeFileSync(path, '', { mode: 0o600 });
    const db = new Database(path);
    const killedIn = scratch();
    try {
      db.pragma('cache_size = 1'); // pages spill into the file before the commit, as a kill in the commit leaves them
      db.exec(`BEGIN IMMEDIATE; CREATE TABLE se_key_handles (a); CREATE TABLE spilled (b)`);
      const insert = db.prepare(`INSERT INTO spilled (b) VALUES (?)`);
      for (let i = 0; i < 200; i++) insert.run('x'.repeat(1000));
      for (const name of readdirSync(making)) copyFileSync(join(making, name), join(killedIn, name));
      db.exec('ROLLBACK');
    } finally {
      db.close();
    }
    expect(existsSync(join(killedIn, `${KEY_REGISTRY_DB_FILE}-journal`))).toBe(true);
    expect(statSync(join(killedIn, KEY_REGISTRY_DB_FILE)).size).toBeGreaterThan(0);
    expect(() => SqliteKeyRegistry.open({ dir: killedIn }).close()).not.toThrow();
    expect(schemaOf(join(killedIn, KEY_REGISTRY_DB_FILE))).toEqual({ tables: KEY_TABLES, version: 2 });
  });
});

describe('a first start killed at any step of making access.db', () => {
  it('leaves no access.db or one with its whole schema, which key list reads and the next start opens', async () => {
    const steps = await stepsOf('access');
    expect(steps).toContain('pragma(journal_mode = WAL)');
    const problems: string[] = [];
    for (const { step, dir, run: killed } of await killedAtEachStep('access', steps)) {
      problems.push(
        ...afterKill(step, join(dir, ACCESS_DB_FILE), { tables: ACCESS_TABLES, version: 4 }, () => {
          expect(signingKeyHandles(dir)).toEqual([]);
          const registry = openAccessRegistry({ dir });
          try {
            expect(registry.claimSigningKey('key-1', new Date(0))).toBe('key-1');
          } finally {
            registry.close();
          }
          expect(signingKeyHandles(dir)).toEqual([{ handle: 'key-1' }]);
        }),
      );
      expectOnlyStraysTheSweepRemoves(dir, ACCESS_DB_FILE, killed.pid, step);
    }
    expect(problems).toEqual([]);
  }, 240_000);
});

describe('a first start killed at any step of making readmodels.db', () => {
  // It has no schema of its own (each projection makes its tables), so a page with no table is a valid empty one.
  it('leaves a file the next start opens', async () => {
    const steps = await stepsOf('readmodels');
    for (const { step, dir } of await killedAtEachStep('readmodels', steps)) {
      const db = openReadModels({ dir });
      try {
        expect(db.pragma('journal_mode', { simple: true }), step).toBe('wal');
      } finally {
        db.close();
      }
    }
  }, 240_000);
});
