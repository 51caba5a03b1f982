/**
 * A library user with an HSM: `openCredence` given a PKCS#11 Secure Environment and a data folder wrote
 * `transparency.key` into the folder (the log key outside the HSM) unless the caller passed a `transparencySigner`,
 * which nothing in the public API could make. `openHsmLogKey` is now public, the recipe of docs/hsm.md ("In a
 * program") signs the log with a key in the token, and opening without it is refused before anything is written.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock, isCredenceError, openCredence, openHsmLogKey, Pkcs11SecureEnvironment, systemRandom, type HsmLogKey } from 'credence';
import { main } from '../bin/cli.ts';
import { DEFAULT_LOG_ORIGIN, KEY_FILE, KEY_HANDLE_FILE, LOG_KEY_OWNER, openTransparencyInDir, openTransparencyLogForAudit, PUBLIC_KEY_FILE } from '../adapters/driven/transparency/index.ts';
import { KeyHandle } from '../domain/ports/index.ts';
import { formatVerifierKey, noteVerifierKey } from '../domain/transparency/note.ts';
import { openCheckpoint } from '../domain/transparency/verify-result.ts';
import { capture } from './support/cli.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { softHsm, softHsmMissing, type TestToken } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-library-hsm-');
const clock = new FakeClock(T0);

describe.skipIf(softHsmMissing !== undefined)('a library user with a PKCS#11 Secure Environment', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('library');
  const untouched = hsm.token('untouched');
  const logKeysIn = (t: TestToken): number => hsm.listObjects(t).split(/\n(?=\S)/).filter((block) => block.includes(LOG_KEY_OWNER) && block.startsWith('Private Key Object')).length;

  /** The recipe of docs/hsm.md, "In a program", through the package's public entry point only. */
  const openWithHsm = async (dir: string, t: TestToken = token) => {
    const se = Pkcs11SecureEnvironment.open({ uri: t.uri() }, { random: systemRandom });
    try {
      const logKey = await openHsmLogKey(dir, se);
      const instance = openCredence({
        location: { dir },
        clock,
        security: { se, random: systemRandom, actor: operator },
        ...(logKey.place === 'hsm' ? { transparencySigner: logKey.signer } : {}),
      });
      return { se, logKey, credence: instance, close: async () => { await instance.close(); se.close(); } };
    } catch (error) {
      se.close();
      throw error;
    }
  };
  const signerOf = (logKey: HsmLogKey) => {
    if (logKey.place !== 'hsm') throw new Error(`expected the log key in the HSM, not in the folder: ${logKey.warning}`);
    return logKey.signer;
  };

  it('following the documented recipe, the log is signed by a key in the token and no transparency.key is in the folder', async () => {
    const dir = join(scratch(), 'data');
    const first = await openWithHsm(dir);
    await first.credence.engine.execute(cmd.registerNode('meter-1'));
    await first.close();
    expect(existsSync(join(dir, KEY_FILE))).toBe(false);
    expect(logKeysIn(token)).toBe(1);
    // The key the folder pins is the token's, and it signed the checkpoint closing left.
    const signer = signerOf(first.logKey);
    const key = noteVerifierKey(signer.keyName, signer.publicKey);
    expect(signer.keyName).toBe(DEFAULT_LOG_ORIGIN);
    expect(readFileSync(join(dir, PUBLIC_KEY_FILE), 'utf8').trim()).toBe(formatVerifierKey(key));
    const log = openTransparencyLogForAudit(dir);
    try {
      const note = log.latestCheckpoint()?.note;
      expect(note).toBeDefined();
      expect(openCheckpoint(note!, key).ok).toBe(true);
    } finally {
      log.close();
    }

    // A restart finds the same key in the token by its handle, and makes no other.
    const again = await openWithHsm(dir);
    try {
      const handle = KeyHandle.parse(readFileSync(join(dir, KEY_HANDLE_FILE), 'utf8').trim());
      const inToken = await again.se.forOwner(LOG_KEY_OWNER).describe(handle);
      expect(inToken).toMatchObject({ kind: 'ed25519', extractable: false, ephemeral: false });
      expect(inToken.publicKey).toEqual(signer.publicKey);
      expect(signerOf(again.logKey).publicKey).toEqual(signer.publicKey);
      await again.credence.engine.execute(cmd.registerNode('meter-2'));
    } finally {
      await again.close();
    }
    expect(existsSync(join(dir, KEY_FILE))).toBe(false);
    expect(logKeysIn(token)).toBe(1);
    const verified = capture();
    expect(await main(['verify', '--data', dir], verified.io)).toBe(0);
  });

  it('opening without transparencySigner a folder that has no transparency.key is refused, naming openHsmLogKey, and writes nothing', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: untouched.uri() }, { random: systemRandom });
    try {
      const open = (dir: string) => () => openCredence({ location: { dir }, clock, security: { se, random: systemRandom, actor: operator } });
      const refusal = (dir: string): unknown => {
        try {
          open(dir)();
        } catch (error) {
          return error;
        }
        throw new Error(`openCredence opened ${dir}`);
      };
      // A folder not made yet is not made; an empty one stays empty.
      const absent = join(scratch(), 'absent');
      const empty = join(scratch(), 'empty');
      mkdirSync(empty, { mode: 0o700 });
      for (const dir of [absent, empty]) {
        const error = refusal(dir);
        expect(isCredenceError(error, 'validation')).toBe(true);
        const problem = (error as { problem: { issues: { path: string; rule: string; message: string }[] } }).problem;
        expect(problem.issues).toMatchObject([{ path: 'transparencySigner', rule: 'log_key_in_hsm' }]);
        expect(problem.issues[0]!.message).toContain('openHsmLogKey');
        expect(problem.issues[0]!.message).toContain(KEY_FILE);
      }
      expect(existsSync(absent)).toBe(false);
      expect(readdirSync(empty)).toEqual([]);
      expect(logKeysIn(untouched)).toBe(0);
    } finally {
      se.close();
    }
  });

  it('a folder that already has transparency.key keeps signing with it: openHsmLogKey says so, and it opens without a signer', async () => {
    // As an earlier version left it (docs/hsm.md, "Moving the log key into the HSM"): verifiers pinned that key.
    const dir = join(scratch(), 'data');
    // Its log with it, made first, as every earlier version did (a key without its log is refused: review 84).
    openTransparencyInDir(dir).log.close();
    const key = readFileSync(join(dir, KEY_FILE), 'utf8');
    const pinned = readFileSync(join(dir, PUBLIC_KEY_FILE), 'utf8');
    const opened = await openWithHsm(dir, untouched);
    await opened.credence.engine.execute(cmd.registerNode('meter-1'));
    await opened.close();
    expect(opened.logKey).toMatchObject({ place: 'folder', warning: expect.stringContaining('Moving the log key into the HSM') });
    expect(readFileSync(join(dir, KEY_FILE), 'utf8')).toBe(key);
    expect(readFileSync(join(dir, PUBLIC_KEY_FILE), 'utf8')).toBe(pinned);
    expect(existsSync(join(dir, KEY_HANDLE_FILE))).toBe(false);
    expect(logKeysIn(untouched)).toBe(0);
  });
});
