import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { MACHINES_SOURCES_CONFIRMED, MACHINES_VERSION } from '../projections/replay/machines-fingerprint.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Every file of this repository the machines load, found as esbuild resolves machines/index.ts (packages left out:
 * the lockfile pins them), hashed in path order with line endings made alike, so a checkout with CRLF hashes the same.
 */
const sourcesOfTheMachines = async (): Promise<{ files: string[]; sha256: string }> => {
  const result = await build({
    entryPoints: ['machines/index.ts'],
    absWorkingDir: ROOT,
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    logLevel: 'silent',
  });
  const files = Object.keys(result.metafile.inputs).sort();
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(`${ROOT}/${file}`, 'utf8').replace(/\r\n/g, '\n'));
    hash.update('\n\0\n');
  }
  return { files, sha256: hash.digest('hex') };
};

describe('the machines version', () => {
  it('is confirmed for the sources the machines load: a change to any of them asks for a decision', async () => {
    const { files, sha256 } = await sourcesOfTheMachines();
    // The closure holds the helpers the fingerprint cannot see, not only the machine definitions.
    expect(files).toEqual(expect.arrayContaining(['machines/guards.ts', 'machines/facts.ts', 'domain/stored.ts']));
    expect(
      sha256,
      `The sources the machines load changed since ${MACHINES_VERSION} was last confirmed ` +
        '(projections/replay/machines-fingerprint.ts, MACHINES_SOURCES_CONFIRMED). If the machines now judge an event, ' +
        'a fact or a context otherwise, bump MACHINES_VERSION, so that a replay checkpoint made by the old code is not ' +
        `gone on from. Either way, set MACHINES_SOURCES_CONFIRMED to '${sha256}'.`,
    ).toBe(MACHINES_SOURCES_CONFIRMED);
  });
});
