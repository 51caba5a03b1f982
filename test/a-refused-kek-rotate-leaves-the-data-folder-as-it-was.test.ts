import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { openDataFolderSecureEnvironment } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 174: `credence kek rotate` refused a KEK file (CREDENCE_KEK_FILE with a KEK still in the folder, its folder
 * open to others, a KEK that does not open the keys) only after it had taken the folder's lock, leaving
 * service-lock.db behind, although README says a refusal writes nothing and kek.ts promised a refused folder is left
 * as it was. Every refusal now leaves every file of the folder, and the KEK outside it, as they were.
 */
const scratch = temporaryFolders('credence-kek-rotate-refused-');

const credence = async (argv: string[], env: Record<string, string> = {}) => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

/** A data folder whose Secure Environment holds a key, its KEK where `kekFile` says (default: in the folder). */
const folderWithAKey = async (kekFile?: string): Promise<string> => {
  const dir = join(scratch(), 'data');
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date(), ...(kekFile ? { kekFile } : {}) });
  try {
    await se.generate('maf:infrastructure', 'ed25519');
  } finally {
    se.close();
  }
  return dir;
};

const kekInFolder = (dir: string): string => {
  const kek = secureEnvironmentConfigForDataDir(dir).kek;
  if (kek.source !== 'file') throw new TypeError('a data folder keeps its KEK in a file');
  return kek.path;
};

const digest = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A digest of every file of the folder (and of the files named in `also`), by name. */
const snapshot = (dir: string, also: readonly string[] = []): Record<string, string> => ({
  ...Object.fromEntries(readdirSync(dir).map((name) => [name, digest(join(dir, name))])),
  ...Object.fromEntries(also.map((file) => [file, digest(file)])),
});

describe('a refused credence kek rotate', () => {
  it('with CREDENCE_KEK_FILE while a KEK is still in the folder: refused naming it, nothing written', async () => {
    const dir = await folderWithAKey();
    const outside = join(scratch(), 'kek', 'credence.kek');
    mkdirSync(join(outside, '..'), { mode: 0o700 });
    writeFileSync(outside, readFileSync(kekInFolder(dir)), { mode: 0o600 });
    const before = snapshot(dir, [outside]);
    const r = await credence(['kek', 'rotate', '--data', dir], { CREDENCE_KEK_FILE: outside });
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain('the data folder still holds a KEK');
    expect(snapshot(dir, [outside])).toEqual(before);
  });

  it('with CREDENCE_KEK_FILE in a folder others may write: refused naming it, nothing written', async () => {
    const outside = join(scratch(), 'kek', 'credence.kek');
    const dir = await folderWithAKey(outside);
    chmodSync(join(outside, '..'), 0o777);
    const before = snapshot(dir, [outside]);
    const r = await credence(['kek', 'rotate', '--data', dir], { CREDENCE_KEK_FILE: outside });
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain('is writable by group or others');
    expect(snapshot(dir, [outside])).toEqual(before);
    chmodSync(join(outside, '..'), 0o700);
  });

  it('with a KEK that does not open the keys: refused, nothing written', async () => {
    const dir = await folderWithAKey();
    const other = await folderWithAKey();
    writeFileSync(kekInFolder(dir), readFileSync(kekInFolder(other)), { mode: 0o600 });
    const before = snapshot(dir);
    const r = await credence(['kek', 'rotate', '--data', dir]);
    expect(r.code, r.err).not.toBe(0);
    expect(snapshot(dir)).toEqual(before);
  });

  it('with the KEK file gone: refused, and no KEK is made', async () => {
    const dir = await folderWithAKey();
    rmSync(kekInFolder(dir));
    const before = snapshot(dir);
    const r = await credence(['kek', 'rotate', '--data', dir]);
    expect(r.code, r.err).not.toBe(0);
    expect(snapshot(dir)).toEqual(before);
  });
});
