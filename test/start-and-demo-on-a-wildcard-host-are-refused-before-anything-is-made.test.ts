/**
 * Review 49: `credence demo --host 0.0.0.0` (or start) without a public URL exited 2 with a clear message, but only
 * after the demo CA (pki/default.ca.json), the Secure Environment, access.db and the rest were in the folder: the
 * refusal came from the second start, the one that loads the CA. The host and public URL are now checked before
 * anything is made: a fresh folder is not created, an existing one is left as it was. (The refusal's wording and exit
 * code: test/start-on-a-wildcard-host-without-a-public-url-is-refused-naming-the-flag.test.ts.)
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-wildcard-up-front-');

/** Every file under `dir` by its path, with the SHA-256 of its content; every folder as `folder`. */
const snapshot = (dir: string, into: Record<string, string> = {}, prefix = ''): Record<string, string> => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const name = `${prefix}${entry.name}`;
    if (entry.isDirectory()) {
      into[name] = 'folder';
      snapshot(join(dir, entry.name), into, `${name}/`);
    } else {
      into[name] = createHash('sha256').update(readFileSync(join(dir, entry.name))).digest('hex');
    }
  }
  return into;
};

const WILDCARD_REFUSAL = /^error: flag --host: publicUrl must be set when the service listens on the wildcard address 0\.0\.0\.0 /m;

describe('credence demo and start on a wildcard host without a public URL', () => {
  it.each([['demo'], ['start']])('%s on a fresh folder is refused without making it', async (command) => {
    const data = join(scratch(), 'data');
    const refused = await runCli([command, '--data', data, '--host', '0.0.0.0', '--port', '0']);
    expect(refused.err).toMatch(WILDCARD_REFUSAL);
    expect(refused.out).not.toContain('issuing CA');
    expect(refused.code).toBe(2);
    expect(existsSync(data)).toBe(false);
  });

  it('is refused on an existing empty folder, leaving it empty', async () => {
    const data = join(scratch(), 'data');
    mkdirSync(data);
    const refused = await runCli(['demo', '--data', data, '--host', '0.0.0.0']);
    expect(refused.err).toMatch(WILDCARD_REFUSAL);
    expect(refused.code).toBe(2);
    expect(readdirSync(data)).toEqual([]);
  });

  it('is refused on a folder the demo ran on (its CA made), every file of it unchanged', async () => {
    const data = join(scratch(), 'data');
    const ran = await runCli(['demo', '--data', data]);
    expect(ran.code, ran.err).toBe(0);
    const before = snapshot(data);
    expect(before['pki/default.ca.json']).toBeDefined();
    for (const command of ['demo', 'start']) {
      const refused = await runCli([command, '--data', data, '--host', '0.0.0.0', '--port', '0']);
      expect(refused.err).toMatch(WILDCARD_REFUSAL);
      expect(refused.code).toBe(2);
      expect(snapshot(data)).toEqual(before);
    }
    // A public URL that names a wildcard address is refused as early, naming it.
    const named = await runCli(['demo', '--data', data, '--host', '0.0.0.0', '--public-url', 'http://0.0.0.0:8080']);
    expect(named.err).toMatch(/^error: flag --public-url: http:\/\/0\.0\.0\.0:8080 names a wildcard address/m);
    expect(named.code).toBe(2);
    expect(snapshot(data)).toEqual(before);
  }, 120_000);
});
