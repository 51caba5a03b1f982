import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every file below `dir` (subfolders too; links not followed, and not listed) with its size, mode, mtime and sha256:
 * what "nothing written" compares before and after a refusal.
 */
export const filesBelow = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .sort()
      .filter((name) => lstatSync(join(dir, name)).isFile())
      .map((name) => {
        const stat = lstatSync(join(dir, name));
        const sha256 = createHash('sha256').update(readFileSync(join(dir, name))).digest('hex');
        return [name, `${stat.size} ${stat.mode.toString(8)} ${stat.mtimeMs} ${sha256}`];
      }),
  );
