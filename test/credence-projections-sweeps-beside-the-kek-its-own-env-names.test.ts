import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openServiceSecureEnvironment } from '../adapters/runtime/index.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * `credence projections` (and `verify --repair-nodes`, `query`) took the data folder's lock with process.env, as
 * `credence ca` did (credence-ca-sweeps-beside-the-kek-its-own-env-names.test.ts): run with another env, the whole-KEK
 * temp a killed write left beside the KEK its CREDENCE_KEK_FILE names outside the folder stayed. A rebuild (the lock
 * it requires) and a status (the lock unless another process holds it) now take it with the command's env, and say
 * where what they removed was.
 */
const scratch = temporaryFolders('credence-projections-kek-strays-');

/** Above Linux's largest pid (2^22): never a running process, as the pid of a killed writer is not. */
const DEAD_PID = 4_194_305;
const KEK = 'credence.kek';
const OLD_STRAY = `.${KEK}.${DEAD_PID}.0123456789ab.tmp`;

/** A data folder with a store, its KEK outside it, and beside that KEK an hour-old temp of a killed write. */
const folderWithAStrayBesideItsKek = async () => {
  const dir = join(scratch(), 'data');
  const kekFolder = join(scratch(), 'secrets');
  mkdirSync(kekFolder, { mode: 0o700 });
  const env = { CREDENCE_KEK_FILE: join(kekFolder, KEK) };
  openServiceSecureEnvironment(dir, undefined, { now: () => new Date(), random: (n) => new Uint8Array(randomBytes(n)), env }).close();
  await openSqliteStoreInDir(dir).close();
  writeFileSync(join(kekFolder, OLD_STRAY), 'a whole KEK, say\n', { mode: 0o600 });
  const anHourAgo = Date.now() / 1000 - 3600;
  utimesSync(join(kekFolder, OLD_STRAY), anHourAgo, anHourAgo);
  return { dir, kekFolder, env };
};

describe('credence projections, run with an env whose CREDENCE_KEK_FILE is outside the data folder', () => {
  it.each([
    ['a rebuild', ['projections', 'rebuild', 'all']],
    ['a status', ['projections', 'status']],
  ])('%s removes the old temp a killed write of that KEK left beside it, and names it as left beside the KEK', async (_, args) => {
    const { dir, kekFolder, env } = await folderWithAStrayBesideItsKek();

    const c = capture();
    const code = await main([...args, '--data', dir], { ...c.io, env });

    expect(code, c.err.join('\n')).toBe(0);
    expect(existsSync(join(kekFolder, OLD_STRAY))).toBe(false);
    expect(readdirSync(kekFolder)).toEqual([KEK]);
    expect(c.err.join('\n')).toContain(`credence projections: removed the temp files interrupted writes had left in ${dir} or beside its KEK file: ${join(kekFolder, OLD_STRAY)}`);
    expect(c.err.join('\n')).not.toContain('a whole KEK');
  });
});
