import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { openServiceSecureEnvironment } from '../adapters/runtime/index.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * `credence ca` took the data folder's lock with process.env, so when the command ran with another env (an embedding,
 * a test) the KEK its CREDENCE_KEK_FILE names outside the folder was neither checked for ownership with the folder
 * nor swept beside: the whole-KEK temp a killed write left there stayed. It now takes the lock with the command's env,
 * as the key commands do.
 */
const scratch = temporaryFolders('credence-ca-kek-strays-');

/** Above Linux's largest pid (2^22): never a running process, as the pid of a killed writer is not. */
const DEAD_PID = 4_194_305;
const KEK = 'credence.kek';
const OLD_STRAY = `.${KEK}.${DEAD_PID}.0123456789ab.tmp`;

describe('credence ca, run with an env whose CREDENCE_KEK_FILE is outside the data folder', () => {
  it('removes the old temp a killed write of that KEK left beside it, and names it on stderr', async () => {
    const dir = join(scratch(), 'data');
    const kekFolder = join(scratch(), 'secrets');
    mkdirSync(kekFolder, { mode: 0o700 });
    const env = { CREDENCE_KEK_FILE: join(kekFolder, KEK) };
    openServiceSecureEnvironment(dir, undefined, { now: () => new Date(), random: (n) => new Uint8Array(randomBytes(n)), env }).close();
    writeFileSync(join(kekFolder, OLD_STRAY), 'a whole KEK, say\n', { mode: 0o600 });
    const anHourAgo = Date.now() / 1000 - 3600;
    utimesSync(join(kekFolder, OLD_STRAY), anHourAgo, anHourAgo);

    const c = capture();
    const code = await main(['ca', 'init', '--data', dir, '--key-type', 'ed25519'], { ...c.io, env });

    expect(code, c.err.join('\n')).toBe(0);
    expect(existsSync(join(kekFolder, OLD_STRAY))).toBe(false);
    expect(readdirSync(kekFolder)).toEqual([KEK]);
    expect(c.err.join('\n')).toContain(join(kekFolder, OLD_STRAY));
    expect(c.err.join('\n')).not.toContain('a whole KEK');
  });
});
