import { existsSync, mkdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { withCaFolder } from '../bin/commands/ca-folder.ts';
import { main } from '../bin/cli.ts';
import { destroyNewKey, type KeyHandle, type OwnedSecureEnvironment } from '../domain/ports/index.ts';
import { capture } from './support/cli.ts';
import { isHeld, withDataFolderSe } from './support/key-held.ts';
import { refusingDestroy } from './support/refusing-destroy.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 61, on a folder with the embedded Secure Environment: it is in its folder, so one folder is named (finding 1);
 * a keys.db whose table is gone (truncated) cannot say which keys it binds, so nothing is destroyed (finding 2); a
 * handle the Secure Environment does not hold may be a typo as well as a finished destroy, and is said so (finding 3);
 * a ca init that removed the folder it made, and the embedded Secure Environment in it, does not send the operator
 * to `credence key destroy` on a folder that is gone.
 */
const scratch = temporaryFolders('credence-key-destroy-checks-');
const INFRASTRUCTURE = 'maf:infrastructure';

const withSe = <T>(dir: string, use: (se: OwnedSecureEnvironment) => Promise<T>): Promise<T> => withDataFolderSe(dir, INFRASTRUCTURE, use);

const held = (dir: string, handle: KeyHandle): Promise<boolean> => withSe(dir, (se) => isHeld(se, handle));

const credence = async (argv: string[]): Promise<{ code: number; out: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env: {} });
  return { code, out: [...out, ...err].join('\n') };
};

/** A folder whose embedded Secure Environment holds one infrastructure key nothing names. */
const folderWithKey = async () => {
  const dir = join(scratch(), 'data');
  const key = await withSe(dir, (se) => se.generate('ed25519'));
  return { dir, key };
};

describe('credence key destroy on a folder with the embedded Secure Environment', () => {
  it('refuses two --data folders, or --token-not-shared (exit 2): its keys are in the one folder; nothing destroyed', async () => {
    const { dir, key } = await folderWithKey();
    const other = join(scratch(), 'other');
    mkdirSync(other, { mode: 0o700 });
    const two = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', key, '--data', dir, '--data', other]);
    expect(two.code, two.out).toBe(2);
    expect(two.out).toContain('the embedded Secure Environment is in its data folder: name that one folder (2 named)');
    const flag = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', key, '--data', dir, '--token-not-shared']);
    expect(flag.code, flag.out).toBe(2);
    expect(flag.out).toContain('--token-not-shared: is for a pkcs11: Secure Environment');
    expect(await held(dir, key)).toBe(true);
  }, 60_000);

  it('refuses a key when keys.db has lost its table (truncated to 0 bytes) as a damaged database, the key kept', async () => {
    const { dir, key } = await folderWithKey();
    const registry = SqliteKeyRegistry.open({ dir });
    try {
      registry.register('infrastructure', key, 'pseudonym-prf');
    } finally {
      registry.close();
    }
    truncateSync(join(dir, 'keys.db'), 0);
    const refused = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', key, '--data', dir]);
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toContain(`the database ${join(dir, 'keys.db')} is damaged (no se_key_handles table`);
    expect(await held(dir, key)).toBe(true);
  }, 60_000);

  it('says of a handle it does not hold that it was destroyed or never there (check the handle), exit 0', async () => {
    const { dir } = await folderWithKey();
    const typo = 'key_AAAAAAAAAAAAAAAAAAAAAAAA';
    const answered = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', typo, '--data', dir]);
    expect(answered.code, answered.out).toBe(0);
    expect(answered.out).toContain(`no key ${typo} of ${INFRASTRUCTURE} in the Secure Environment of ${dir}: already destroyed, or never there (check the handle)`);
    expect(answered.out).not.toContain('is already destroyed');
  }, 60_000);

  it('a ca init that removed the folder it made says the key went with its embedded Secure Environment', async () => {
    const data = join(scratch(), 'made-by-init');
    const { io } = capture();
    const error = await withCaFolder({ data }, { ...io, env: {} }, async ({ se }) => {
      const refusing = refusingDestroy(se);
      refusing.refuse();
      const left = await refusing.se.generate('p256');
      throw await destroyNewKey(refusing.se, left, new Error('--csr-out: cannot write (simulated)'), `the key ${left} made for CA default`);
    }).catch((e: unknown) => e as Error);
    expect(existsSync(data)).toBe(false);
    expect(error.message).toContain(`${data} was removed (this command made it), and that key with the embedded Secure Environment it held: nothing is left to destroy`);
  }, 60_000);
});
