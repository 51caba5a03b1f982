import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** Temporary folders named `prefix...` in the system's temporary folder, removed together by `cleanup`. */
export const tempDirs = (prefix = 'credence-tlog-') => {
  const dirs: string[] = [];
  return {
    make: (): string => {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    cleanup: (): void => {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** The folders one test file makes (`tempDirs`), removed after each of its tests. */
export const temporaryFolders = (prefix: string): (() => string) => {
  const dirs = tempDirs(prefix);
  afterEach(dirs.cleanup);
  return dirs.make;
};
