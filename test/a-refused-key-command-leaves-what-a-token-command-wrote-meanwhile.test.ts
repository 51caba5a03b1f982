import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openAccessRegistry } from '../adapters/runtime/index.ts';
import { holdAccessKeyMaking } from '../bin/commands/access-key-making-lock.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 399 #1: a key command refused on a folder that held nothing when it took the folder's lock (a token serving
 * no folder yet: --token-not-shared --without-records) swept, in its discard, every file of Credence's added since,
 * taking itself for the folder's only writer. A local token command takes no folder lock: the access.db it wrote
 * while `key destroy` waited for its key-making lock was deleted by that refusal (its admin token dead, its key then
 * listed unnamed). A key command writes nothing but its lock, and its refusal drops only that lock's files.
 * #2: the wait said nothing, and lasted 15 s per token command; it is one line on stderr and one deadline in all.
 */
const scratch = temporaryFolders('credence-refused-key-command-token-wrote-');
const CREDENCE = fileURLToPath(new URL('../bin/credence.mjs', import.meta.url));
const ACCESS_OWNER = 'credence:access';

/** `credence <args>` in a child process (its wait blocks its thread): its exit, and its stderr so far as it comes. */
const started = (args: readonly string[], env: Readonly<Record<string, string>>) => {
  const child = spawn(process.execPath, [CREDENCE, ...args], { env: { ...process.env, ...env } });
  let err = '';
  let saidWaiting: number | undefined;
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    if (saidWaiting === undefined && err.includes('waiting up to')) saidWaiting = Date.now();
  });
  child.stdout.resume();
  const ended = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { stderr: () => err, ended, saidWaiting: () => saidWaiting };
};

describe.skipIf(softHsmMissing !== undefined)('a key command refused while a local token command writes the folder', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());

  it('leaves the access.db the token command wrote during its wait; it says it waits, once, and is refused once within one deadline', async () => {
    const token = hsm.token('refused-key-command');
    const dir = join(scratch(), 'data');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Two local token commands at work in the folder (they take no folder lock), each holding the key-making lock.
    const first = holdAccessKeyMaking(dir);
    const second = holdAccessKeyMaking(dir);
    try {
      const destroy = started(
        ['key', 'destroy', '--owner', ACCESS_OWNER, '--handle', 'key_aaaaaaaaaaaaaaaaaaaaaaaa', '--data', dir, '--token-not-shared', '--without-records'],
        { CREDENCE_SECURE_ENVIRONMENT: token.uri() },
      );
      // The key command has the folder's lock once its holder file is there; then a token command writes access.db.
      for (let waited = 0; !existsSync(join(dir, 'service.lock')) && waited < 20_000; waited += 50) await sleep(50);
      expect(existsSync(join(dir, 'service.lock')), destroy.stderr()).toBe(true);
      await sleep(500);
      const registry = openAccessRegistry({ dir });
      registry.close();
      expect(existsSync(join(dir, 'access.db'))).toBe(true);
      const code = await destroy.ended;
      // From the line to the refusal: one deadline (a process start aside, which a loaded machine makes long).
      const took = Date.now() - (destroy.saidWaiting() ?? 0);
      const err = destroy.stderr();

      expect(code, err).not.toBe(0);
      expect(err).toContain('[access_key_being_made]');
      expect(err).toContain('nothing listed or destroyed');
      // What the token command wrote stays; only the key command's own lock is gone.
      expect(existsSync(join(dir, 'access.db')), 'the refusal swept the token command\'s access.db').toBe(true);
      expect(readdirSync(dir).filter((name) => name.startsWith('service'))).toEqual([]);
      // One line while it waits, naming the folder; one deadline for both holders (15 s each made it 30 s).
      expect(err.match(/waiting up to 15 s for a local credence token command making an API token signing key in /g)?.length, err).toBe(1);
      expect(err).toContain(`key in ${dir}`);
      expect(err.match(/\[access_key_being_made\]/g)?.length).toBe(1);
      expect(took).toBeLessThan(27_000);
    } finally {
      second.release();
      first.release();
    }
  }, 60_000);
});
