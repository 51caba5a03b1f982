import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { secureEnvironmentConfigForDataDir, wrappingKeysPath } from '../adapters/driven/secure-environment/index.ts';
import { openDataFolderSecureEnvironment } from '../adapters/runtime/index.ts';
import { rotateDataFolderKek } from '../adapters/runtime/kek-rotation.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 218: `credence export` takes no lock of the data folder, so it can run beside `credence kek rotate`. An export
 * that opened the Secure Environment under the old KEK and unsealed the log key after the rotation committed was
 * refused as "its wrapping key was altered": an auditor told of tampering for a legitimate rotation. It is refused as a
 * rotation since this process opened the keys, to run again; a wrapping key that fails under the current KEK too is
 * still refused as altered.
 */
const scratch = temporaryFolders('credence-kek-rotated-since-opened-');
const OWNER = 'maf:infrastructure';
const message = new Uint8Array([1, 2, 3]);
const now = () => new Date();

const issuesOf = (error: unknown): { rule: string; message: string }[] =>
  isCredenceError(error) && error.problem.code === 'validation' ? error.problem.issues.map(({ rule, message }) => ({ rule, message })) : [];

const refusalOf = (work: Promise<unknown>): Promise<unknown> => work.then(() => undefined, (error: unknown) => error);

/** A data folder whose Secure Environment holds one signing key; the folder and the key's handle. */
const folderWithKey = async (): Promise<{ dir: string; handle: KeyHandle }> => {
  const dir = join(scratch(), 'data');
  const se = openDataFolderSecureEnvironment(dir, { now });
  try {
    return { dir, handle: await se.generate(OWNER, 'ed25519') };
  } finally {
    se.close();
  }
};

/** The key's wrapping key overwritten in the wrapping-key file with bytes of the same length: a tampered file. */
const alterWrappingKey = (dir: string, handle: KeyHandle): void => {
  const db = new Database(wrappingKeysPath(secureEnvironmentConfigForDataDir(dir)));
  try {
    const { sealed } = db.prepare('SELECT sealed FROM se_wrapping_keys WHERE handle = ?').get(handle) as { sealed: Buffer };
    const altered = Buffer.from(sealed);
    altered[altered.length - 1]! ^= 0x01;
    db.prepare('UPDATE se_wrapping_keys SET sealed = ? WHERE handle = ?').run(altered, handle);
  } finally {
    db.close();
  }
};

describe('a key used through a Secure Environment opened before `credence kek rotate` committed', () => {
  it('is refused as a rotation since this process opened the keys, to run again: never as a key altered', async () => {
    const { dir, handle } = await folderWithKey();
    const opened = openDataFolderSecureEnvironment(dir, { now });
    try {
      expect((await opened.sign(OWNER, handle, message)).length).toBeGreaterThan(0);
      // As `credence kek rotate` does it, through its own handle on the same folder.
      expect(rotateDataFolderKek(dir, { env: {} }).resealed).toBe(1);
      const issues = issuesOf(await refusalOf(opened.sign(OWNER, handle, message)));
      expect(issues.map((i) => i.rule)).toEqual(['kek_matches_database']);
      expect(issues[0]?.message).toMatch(/re-sealed under another KEK \(credence kek rotate\) since this process opened them: the key was not used; run the command again/);
      expect(issues[0]?.message).not.toMatch(/altered/);
    } finally {
      opened.close();
    }
    // Run again, it opens them under the new KEK.
    const again = openDataFolderSecureEnvironment(dir, { now });
    try {
      expect((await again.sign(OWNER, handle, message)).length).toBeGreaterThan(0);
    } finally {
      again.close();
    }
  });

  it('a wrapping key that fails under the current KEK too is still refused as altered, before and after a rotation', async () => {
    const { dir, handle } = await folderWithKey();
    const opened = openDataFolderSecureEnvironment(dir, { now });
    try {
      alterWrappingKey(dir, handle);
      const issues = issuesOf(await refusalOf(opened.sign(OWNER, handle, message)));
      expect(issues).toEqual([{ rule: 'sealed_key_integrity', message: `key ${handle} failed its integrity check: its wrapping key was altered` }]);
    } finally {
      opened.close();
    }

    const other = await folderWithKey();
    rotateDataFolderKek(other.dir, { env: {} });
    const rotated = openDataFolderSecureEnvironment(other.dir, { now });
    try {
      alterWrappingKey(other.dir, other.handle);
      const issues = issuesOf(await refusalOf(rotated.sign(OWNER, other.handle, message)));
      expect(issues.map((i) => i.rule)).toEqual(['sealed_key_integrity']);
      expect(issues[0]?.message).toMatch(/its wrapping key was altered/);
    } finally {
      rotated.close();
    }
  });
});
