import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 81: `credence export --out` made the bundle 0644 whatever the umask (the atomic write set the mode exactly),
 * though a bundle holds an entity's events (subscriber and node identifiers, actors): an operator's umask 077 was
 * ignored. The bundle now takes 0644 narrowed by the umask, as any file the operator makes.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const exportUnder = async (mask: number): Promise<number> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 2);
  await store.close();
  const out = join(dirs.make(), 'bundle.json');
  const previous = process.umask(mask);
  try {
    const c = capture();
    expect(await exportCommand(['credential-meter-1', '--out', out, '--data', dir], c.io), c.err.join('\n')).toBe(0);
  } finally {
    process.umask(previous);
  }
  return statSync(out).mode & 0o777;
};

describe('an exported bundle', () => {
  it('is readable by others under the usual umask 022', async () => {
    expect(await exportUnder(0o022)).toBe(0o644);
  });

  it('is private under umask 077, as the operator asked of every file they make', async () => {
    expect(await exportUnder(0o077)).toBe(0o600);
  });
});
