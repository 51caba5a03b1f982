import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { cmd } from './fleet.ts';
import { startTestService } from './service.ts';
import { settledWithin } from './settled-within.ts';

/*
 * Running the CLI on a data folder this account may not write. Modes bind no root with its capabilities: run as root,
 * the CLI runs as root without any (setpriv empties the bounding set), so it obeys the modes as any account does, and
 * still reads this checkout wherever it is (a clean clone in a 0700 folder is no other account's to read).
 */

export const asRoot = process.getuid?.() === 0;
const DROP_CAPABILITIES = ['--bounding-set=-all', '--inh-caps=-all', '--'];
/** False as root where setpriv cannot drop capabilities: the tests that need the modes to bind are skipped there. */
export const canDropCapabilities = asRoot && spawnSync('setpriv', [...DROP_CAPABILITIES, 'true']).status === 0;
const CLI = resolve('bin/credence.mjs');

/** `credence <argv>` in a process of its own: without capabilities when this one is root, else as this user. */
export const credenceWithoutCapabilities = (argv: readonly string[]): { code: number | null; said: string } => {
  const [command, args] = asRoot
    ? ['setpriv', [...DROP_CAPABILITIES, process.execPath, CLI, ...argv]]
    : [process.execPath, [CLI, ...argv]];
  const run = spawnSync(command, args, { cwd: resolve('.'), env: { PATH: process.env.PATH ?? '', HOME: tmpdir() }, encoding: 'utf8', timeout: 120_000 });
  return { code: run.status, said: `${run.stdout}${run.stderr}` };
};

/** Every entry of `dir`: a file's size, mode, mtime and a digest of its bytes; a subfolder as such. */
export const snapshot = (dir: string): Record<string, string> => {
  const found: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const stat = lstatSync(join(dir, name));
    found[name] = stat.isDirectory() ? 'folder' : `${stat.size} ${stat.mode.toString(8)} ${stat.mtimeMs} ${createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')}`;
  }
  return found;
};

/** `dir` and the files in it made read-only (its subfolders are left: the commands tested do not go in them). */
export const readOnly = (dir: string): void => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!lstatSync(path).isDirectory()) chmodSync(path, lstatSync(path).mode & 0o555);
  }
  chmodSync(dir, 0o500);
};

/** `readOnly` undone, so the folder can be removed. */
export const writableAgain = (dir: string): void => {
  if (!existsSync(dir)) return;
  chmodSync(dir, 0o700);
  for (const name of readdirSync(dir)) if (!lstatSync(join(dir, name)).isDirectory()) chmodSync(join(dir, name), 0o600);
};

/**
 * A data folder a service served and stopped cleanly (`meter-1` registered), in a scratch folder of its own, and
 * read-only copies of it (`prepare` runs on a copy before it is made read-only); all removed after the suite.
 */
export const readOnlyCopiesOfAStoppedFolder = (prefix: string) => {
  let scratch = '';
  let stopped = '';
  let preparing: Promise<void> | undefined;
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), prefix));
    stopped = join(scratch, 'stopped');
    preparing = (async () => {
      const svc = await startTestService({ dir: stopped });
      await svc.service.context.credence.engine.execute(cmd.registerNode('meter-1'));
      await svc.close();
    })();
    await preparing;
  }, 60_000);
  afterAll(async () => {
    if (scratch === '') return;
    // A preparation the beforeAll's timeout gave up on still writes in `stopped`: removed under it, the folder was made
    // again and left behind. Awaited first, for half a minute at most.
    await settledWithin(preparing, 30_000);
    try {
      for (const name of readdirSync(scratch)) writableAgain(join(scratch, name));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 40_000);
  return {
    scratch: () => scratch,
    stopped: () => stopped,
    copyOf: (name: string, prepare?: (dir: string) => void): string => {
      const copy = join(scratch, name);
      cpSync(stopped, copy, { recursive: true, preserveTimestamps: true });
      prepare?.(copy);
      readOnly(copy);
      return copy;
    },
  };
};
