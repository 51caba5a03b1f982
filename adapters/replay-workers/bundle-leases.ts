import { readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A build directory no manifest points to any more is removed once this old and leased by no running process: the
 * grace covers a process that has read the manifest and not yet written its lease. It counts from when the build
 * stopped being current (its folder is touched then, `buildBundle`), not from when it was built.
 */
const STALE_BUILD_GRACE_MS = 60_000;
/** `lease.<build>.<pid>`: the process `pid` uses the build (see `lease`). */
const LEASE = /^lease\.([0-9a-f]{16})\.([1-9][0-9]{0,9})$/;

/**
 * Marks `build` as used by this process for as long as it runs: its workers load the build's files when they start,
 * and a process may start workers again later. Another process's rebuild keeps a build while a process that leased
 * it is alive, however old the build is (`removeOldBuilds`). A lease that cannot be written (a read-only cache, where
 * no rebuild can remove anything either) is not needed. The leases of processes that have ended go at the same time:
 * without a rebuild nothing else removes them, and every process that used the bundle would leave one behind.
 */
export const lease = (keyDir: string, build: string): void => {
  try {
    writeFileSync(join(keyDir, `lease.${build}.${process.pid}`), '');
    liveLeases(keyDir, readdirSync(keyDir));
  } catch {
    // See above.
  }
};

/** The builds leased by a running process among `names` (of `keyDir`); the leases of ended processes are removed. */
const liveLeases = (keyDir: string, names: readonly string[]): Set<string> => {
  const inUse = new Set<string>();
  for (const name of names) {
    const leased = LEASE.exec(name);
    if (leased === null) continue;
    if (running(Number(leased[2]))) inUse.add(leased[1]!);
    else {
      try {
        rmSync(join(keyDir, name), { force: true });
      } catch {
        // Not ours to remove (a cache shared between users): it only keeps a build longer.
      }
    }
  }
  return inUse;
};

/** Whether the process `pid` is running (EPERM: it is, under another user). */
const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export const touch = (path: string): void => {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    // Gone already (removed by another process's rebuild): nothing to keep.
  }
};

/**
 * Keeps the cache bounded: every build folder but the current one, once no running process has leased it and none can
 * still be about to; leases of processes that have ended go too. Exported for tests.
 */
export const removeOldBuilds = (keyDir: string, current: string): void => {
  const names = readdirSync(keyDir);
  const inUse = liveLeases(keyDir, names);
  for (const name of names) {
    if (name === current || name === 'current.json' || name.endsWith('.tmp') || LEASE.test(name) || inUse.has(name)) continue;
    const path = join(keyDir, name);
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_BUILD_GRACE_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed by another process meanwhile.
    }
  }
};
