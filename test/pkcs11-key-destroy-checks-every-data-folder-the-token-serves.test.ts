import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOG_KEY_OWNER } from '../adapters/driven/transparency/index.ts';
import { withCaFolder } from '../bin/commands/ca-folder.ts';
import { main } from '../bin/cli.ts';
import { destroyNewKey, KeyHandle } from '../domain/ports/index.ts';
import { capture } from './support/cli.ts';
import { sharedTokenFolders } from './support/shared-token-folders.ts';
import { refusingDestroy } from './support/refusing-destroy.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 61 finding 1: one token may serve several data folders (docs/hsm.md), and their keys are in it under the same
 * owners. `credence key destroy` / `log-key destroy` read only the folder --data named, then destroyed through the
 * owner's view of the whole token: naming folder A destroyed a key folder B still used. Every folder the token serves
 * is now named (--data repeatable), each locked and read; one folder alone only with --token-not-shared.
 */
const scratch = temporaryFolders('credence-hsm-key-destroy-');
const INFRASTRUCTURE = 'maf:infrastructure';

describe.skipIf(softHsmMissing !== undefined)('credence key destroy and log-key destroy on a token several data folders share', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('shared');
  const env = { CREDENCE_SECURE_ENVIRONMENT: token.uri() };

  const { withToken, held, twoFolders: foldersAB } = sharedTokenFolders(token.uri(), scratch);

  const credence = async (argv: string[]): Promise<{ code: number; out: string }> => {
    const { io, out, err } = capture();
    const code = await main(argv, { ...io, env });
    return { code, out: [...out, ...err].join('\n') };
  };

  /** Folders A and B of one token (sharedTokenFolders), and B's log key's handle in a file of its own. */
  const twoFolders = async () => {
    const { a, b, bound, logKey } = await foldersAB();
    const logKeyFile = join(scratch(), 'b.handle');
    writeFileSync(logKeyFile, `${logKey}\n`);
    return { a, b, bound, logKey, logKeyFile };
  };

  it("naming one folder without --token-not-shared is refused (exit 2), saying why; another folder's key is kept", async () => {
    const { a, bound, logKey, logKeyFile } = await twoFolders();
    for (const argv of [
      ['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', bound, '--data', a],
      ['log-key', 'destroy', '--handle-file', logKeyFile, '--data', a],
    ]) {
      const refused = await credence(argv);
      expect(refused.code, refused.out).toBe(2);
      expect(refused.out).toContain('name every data folder served on that token');
      expect(refused.out).toContain('--token-not-shared');
    }
    expect(await held(INFRASTRUCTURE, bound)).toBe(true);
    expect(await held(LOG_KEY_OWNER, logKey)).toBe(true);
  }, 60_000);

  it('naming both folders refuses a key the other folder still names (exit 1, its rule), destroying nothing', async () => {
    const { a, b, bound, logKey, logKeyFile } = await twoFolders();
    const key = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', bound, '--data', a, '--data', b]);
    expect(key.code, key.out).toBe(1);
    expect(key.out).toContain('[key_registry_key_in_use]');
    expect(key.out).toContain(join(b, 'keys.db'));
    const log = await credence(['log-key', 'destroy', '--handle-file', logKeyFile, '--data', a, b]);
    expect(log.code, log.out).toBe(1);
    expect(log.out).toContain('[log_key_in_use]');
    expect(await held(INFRASTRUCTURE, bound)).toBe(true);
    expect(await held(LOG_KEY_OWNER, logKey)).toBe(true);
  }, 60_000);

  it('naming both folders destroys a key neither names; with --token-not-shared the one folder named is the check', async () => {
    const { a, b } = await twoFolders();
    const left = await withToken(INFRASTRUCTURE, (se) => se.generate('ed25519'));
    const destroyed = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', left, '--data', a, '--data', b]);
    expect(destroyed.code, destroyed.out).toBe(0);
    expect(destroyed.out).toContain(`destroyed key ${left} (${INFRASTRUCTURE}) in the Secure Environment of ${a}, ${b}`);
    expect(await held(INFRASTRUCTURE, left)).toBe(false);
    const other = await withToken(INFRASTRUCTURE, (se) => se.generate('ed25519'));
    const alone = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', other, '--data', a, '--token-not-shared']);
    expect(alone.code, alone.out).toBe(0);
    expect(await held(INFRASTRUCTURE, other)).toBe(false);
  }, 60_000);

  it('a folder named beside others that holds no Credence records (a wrong path) is bad usage (exit 2), destroying nothing', async () => {
    const { b, bound } = await twoFolders();
    // The parent of a data folder, say: review 62 found it passed for the folder, and B's bound key was destroyed.
    const wrong = join(scratch(), 'parent');
    mkdirSync(join(wrong, 'data'), { recursive: true });
    const refused = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', bound, '--data', wrong, '--data', b]);
    expect(refused.code, refused.out).toBe(2);
    expect(refused.out).toContain(`${wrong} holds no Credence records`);
    expect(await held(INFRASTRUCTURE, bound)).toBe(true);
    expect(existsSync(join(wrong, 'service-lock.db'))).toBe(false);
  }, 60_000);

  it('--token-not-shared beside two folders, or one folder named twice, is bad usage (exit 2), destroying nothing', async () => {
    const { a, b } = await twoFolders();
    const left = await withToken(INFRASTRUCTURE, (se) => se.generate('ed25519'));
    const both = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', left, '--data', a, b, '--token-not-shared']);
    expect(both.code, both.out).toBe(2);
    expect(both.out).toContain('--token-not-shared');
    const twice = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', left, '--data', a, '--data', join(a, '.')]);
    expect(twice.code, twice.out).toBe(2);
    expect(twice.out).toContain('are the same data folder');
    expect(await held(INFRASTRUCTURE, left)).toBe(true);
  }, 60_000);

  it('a ca init key left in the token after its new folder was removed: the error says so, and an empty folder with --token-not-shared --without-records destroys it', async () => {
    const data = join(scratch(), 'made-by-init');
    let left: KeyHandle | undefined;
    const { io } = capture();
    const error = await withCaFolder({ data }, { ...io, env }, async ({ se }) => {
      const refusing = refusingDestroy(se);
      refusing.refuse();
      left = await refusing.se.generate('p256');
      throw await destroyNewKey(refusing.se, left, new Error('--csr-out: cannot write (simulated)'), `the key ${left} made for CA default`);
    }).catch((e: unknown) => e as Error);
    expect(existsSync(data)).toBe(false);
    expect(error.message).toContain(`credence key destroy --owner ${INFRASTRUCTURE} --handle ${left!} --data <the data folder>`);
    expect(error.message).toContain(`${data} was removed (this command made it)`);
    expect(error.message).toContain('an empty one with --token-not-shared --without-records');
    expect(await held(INFRASTRUCTURE, left!)).toBe(true);
    const empty = join(scratch(), 'empty');
    mkdirSync(empty, { mode: 0o700 });
    // Without --without-records an empty folder is refused: it may be a wrong path (review 63).
    const unsaid = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', left!, '--data', empty, '--token-not-shared']);
    expect(unsaid.code, unsaid.out).toBe(2);
    expect(await held(INFRASTRUCTURE, left!)).toBe(true);
    const destroyed = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', left!, '--data', empty, '--token-not-shared', '--without-records']);
    expect(destroyed.code, destroyed.out).toBe(0);
    expect(await held(INFRASTRUCTURE, left!)).toBe(false);
  }, 60_000);
});
