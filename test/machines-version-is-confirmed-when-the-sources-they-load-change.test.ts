import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { MACHINES_SOURCES_CONFIRMED, MACHINES_VERSION } from '../projections/replay/machines-fingerprint.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * What a replay checkpoint's verdict was decided by: the machines, and replay's own rules (review 284: a rule added to
 * the verifier, an event recorded by another command, left checkpoints of the older rules gone on from). Replay in one
 * thread and from a checkpoint (projections/replay/index.ts), and in workers: each worker's passes and their merge.
 */
const ENTRY_POINTS = [
  'machines/index.ts', 'projections/replay/index.ts', 'adapters/replay-workers/replay-worker.ts', 'adapters/replay-workers/merge-partitions.ts',
  // What routes records to the workers and what the checkpoint's chained digest covers (review 371).
  'adapters/replay-workers/pool.ts', 'adapters/replay-workers/worker-feed.ts', 'adapters/replay-workers/record-digest.ts',
];

const FINGERPRINT_FILE = 'projections/replay/machines-fingerprint.ts';
/** The confirmed hash is held in a file it covers: hashed as if blank, or recording it would change it again. */
const CONFIRMED_HASH = /(MACHINES_SOURCES_CONFIRMED = ')[0-9a-f]*(')/;

/**
 * Every file of this repository those entry points load, found as esbuild resolves them (packages left out: the
 * lockfile pins them), hashed in path order with line endings made alike, so a checkout with CRLF hashes the same.
 */
const sourcesOfTheMachines = async (): Promise<{ files: string[]; sha256: string }> => {
  const result = await build({
    entryPoints: ENTRY_POINTS,
    // Asked for by esbuild with more than one entry point; nothing is written (write: false).
    outdir: 'unwritten',
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
    const text = readFileSync(`${ROOT}/${file}`, 'utf8').replace(/\r\n/g, '\n');
    if (file === FINGERPRINT_FILE && !CONFIRMED_HASH.test(text)) throw new Error(`${FINGERPRINT_FILE} holds no MACHINES_SOURCES_CONFIRMED = '<hex>'`);
    hash.update(file === FINGERPRINT_FILE ? text.replace(CONFIRMED_HASH, '$1$2') : text);
    hash.update('\n\0\n');
  }
  return { files, sha256: hash.digest('hex') };
};

/** Files of replay's that decide a finding besides the machines: a change to one is a change of the verdict too. */
const REPLAY_RULES = [
  'projections/replay/verifier.ts',
  'projections/replay/command-records.ts',
  'domain/commands/catalog.ts',
  'projections/replay/entity.ts',
  'projections/replay/checkpoint.ts',
  'projections/replay/partition.ts',
  'projections/replay/speculation.ts',
  'adapters/replay-workers/replay-worker.ts',
  'adapters/replay-workers/merge-partitions.ts',
];

describe('the machines version', () => {
  it('is confirmed for the sources the machines and replay load: a change to any of them asks for a decision', async () => {
    const { files, sha256 } = await sourcesOfTheMachines();
    // The closure holds the helpers the fingerprint cannot see, not only the machine definitions.
    expect(files).toEqual(expect.arrayContaining(['machines/guards.ts', 'machines/facts.ts', 'domain/stored.ts']));
    // And replay's own rules, by which a checkpoint's findings were decided as much as by the machines (review 284).
    expect(files).toEqual(expect.arrayContaining([...REPLAY_RULES, FINGERPRINT_FILE]));
    expect(
      sha256,
      `The sources the machines or replay's rules load changed since ${MACHINES_VERSION} was last confirmed ` +
        '(projections/replay/machines-fingerprint.ts, MACHINES_SOURCES_CONFIRMED). If the machines now judge an event, ' +
        'a fact or a context otherwise, or replay finds otherwise (one thread, workers or from a checkpoint), bump ' +
        'MACHINES_VERSION, so that a replay checkpoint made by the old code is not ' +
        `gone on from. Either way, set MACHINES_SOURCES_CONFIRMED to '${sha256}'.`,
    ).toBe(MACHINES_SOURCES_CONFIRMED);
  });
});
