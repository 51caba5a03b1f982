import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** `path` with its longest existing part resolved through links (realpath), the rest appended as written. */
export const resolvedAsFarAsItExists = (path: string): string => {
  const absolute = resolve(path);
  const missing: string[] = [];
  for (let at = absolute; ; at = dirname(at)) {
    if (existsSync(at)) return join(realpathSync(at), ...missing.reverse());
    if (dirname(at) === at) return absolute;
    missing.push(basename(at));
  }
};
