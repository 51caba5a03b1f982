import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOG_KEY_OWNER } from '../adapters/driven/transparency/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { sharedTokenFolders } from './support/shared-token-folders.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * One token may serve several data folders, their keys under the same owners. `credence key list` reads the records
 * of every folder named, as `credence key destroy` does: a key folder B names is named, whichever folder it is listed
 * through, and one folder alone is refused unless --token-not-shared says it is the token's only one.
 */
const scratch = temporaryFolders('credence-hsm-key-list-');
const INFRASTRUCTURE = 'maf:infrastructure';

describe.skipIf(softHsmMissing !== undefined)('credence key list on a token several data folders share', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());

  const setUp = async (name: string) => {
    const token = hsm.token(name);
    const env = { CREDENCE_SECURE_ENVIRONMENT: token.uri() };
    const { withToken, held, twoFolders } = sharedTokenFolders(token.uri(), scratch);
    const credence = async (argv: string[]): Promise<{ code: number; out: string[]; all: string }> => {
      const { io, out, err } = capture();
      const code = await main(argv, { ...io, env });
      return { code, out, all: [...out, ...err].join('\n') };
    };
    const { a, b, bound, logKey } = await twoFolders();
    const left = await withToken(INFRASTRUCTURE, (se) => se.generate('ed25519'));
    return { a, b, bound, logKey, left, held, credence };
  };

  it("lists a key folder B names as named through A and B, the key neither names as unnamed; key destroy of it leaves none unnamed", async () => {
    const { a, b, bound, logKey, left, held, credence } = await setUp('list-both');
    const listed = await credence(['key', 'list', '--data', a, '--data', b]);
    expect(listed.code, listed.all).toBe(0);
    const lineOf = (handle: string) => listed.out.find((line) => line.startsWith(`${handle} `));
    expect(lineOf(bound)).toContain(`${bound} ${INFRASTRUCTURE} psk256 - named by key_registry_key_in_use: the key ${join(b, 'keys.db')} binds`);
    expect(lineOf(logKey)).toContain(`${logKey} ${LOG_KEY_OWNER} ed25519/sign - named by log_key_in_use`);
    expect(lineOf(left)).toBe(`${left} ${INFRASTRUCTURE} ed25519/sign - unnamed`);
    expect(listed.out.slice(-2)).toEqual([
      '1 of 3 listed named by nothing, each one key destroy would destroy:',
      `  credence key destroy --owner ${INFRASTRUCTURE} --handle ${left} --data ${a} --data ${b}`,
    ]);
    const destroyed = await credence(['key', 'destroy', '--owner', INFRASTRUCTURE, '--handle', left, '--data', a, '--data', b]);
    expect(destroyed.code, destroyed.all).toBe(0);
    expect(await held(INFRASTRUCTURE, left)).toBe(false);
    const again = await credence(['key', 'list', '--data', a, '--data', b, '--unnamed']);
    expect(again.code, again.all).toBe(0);
    expect(again.out).toEqual([`no key nothing names: 2 listed, each named by a record of ${a}, ${b}`]);
    expect(await held(INFRASTRUCTURE, bound)).toBe(true);
    expect(await held(LOG_KEY_OWNER, logKey)).toBe(true);
  }, 60_000);

  it('one folder alone is refused (exit 2) without --token-not-shared; with it, that folder is the one read', async () => {
    const { a, bound, left, credence } = await setUp('list-one');
    const refused = await credence(['key', 'list', '--data', a]);
    expect(refused.code, refused.all).toBe(2);
    expect(refused.all).toContain('name every data folder served on that token');
    expect(refused.all).not.toContain('unnamed');
    const alone = await credence(['key', 'list', '--data', a, '--token-not-shared', '--json', '--unnamed']);
    expect(alone.code, alone.all).toBe(0);
    const report = JSON.parse(alone.out.join('\n')) as { keys: { handle: string; destroy?: string }[] };
    // A's records name nothing: what B names is unnamed here, which is why the flag is the operator's word.
    expect(report.keys.map((k) => k.handle).sort()).toEqual(expect.arrayContaining([bound, left]));
    expect(report.keys.find((k) => k.handle === left)!.destroy).toBe(`credence key destroy --owner ${INFRASTRUCTURE} --handle ${left} --data ${a} --token-not-shared`);
  }, 60_000);

  it('one folder holding no records (a wrong path) is refused even with --token-not-shared, listing nothing unnamed', async () => {
    const { credence } = await setUp('list-wrong');
    // Review 63: the data folder's parent, or a fresh ./data, made every key of the token read unnamed.
    const wrong = join(scratch(), 'parent');
    mkdirSync(join(wrong, 'data'), { recursive: true });
    const refused = await credence(['key', 'list', '--data', wrong, '--token-not-shared']);
    expect(refused.code, refused.all).toBe(2);
    expect(refused.all).toContain(`${wrong} holds no Credence records`);
    expect(refused.all).toContain('--without-records');
    expect(refused.all).not.toContain('unnamed');
  }, 60_000);
});
