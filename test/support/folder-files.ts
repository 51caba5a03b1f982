import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `dir`, by its path relative to it, with its content's SHA-256: what a refused command must leave as it was. */
export const folderFiles = (dir: string, prefix = ''): Record<string, string> =>
  Object.fromEntries(
    readdirSync(join(dir, prefix)).flatMap((name) => {
      const path = join(prefix, name);
      return statSync(join(dir, path)).isDirectory() ? Object.entries(folderFiles(dir, path)) : [[path, createHash('sha256').update(readFileSync(join(dir, path))).digest('hex')]];
    }),
  );
