import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 229: operators and auditors are refused the pseudonymised event stream (its positions pair with the canonical
 * stream's), so `limits.maxPseudonymisedStreamsOfOperatorsAndAuditors` bounds nothing any more. A config file written
 * for an earlier release that names it must still start: the setting is accepted, unused, and said once at start.
 */
const scratch = temporaryFolders('credence-retired-limit-');
const SAID = 'limits.maxPseudonymisedStreamsOfOperatorsAndAuditors: no longer used: operators and auditors are refused the pseudonymised event stream';

const configFile = (limits: Record<string, unknown>): string => {
  const file = join(scratch(), 'credence.json');
  writeFileSync(file, JSON.stringify({ limits }));
  chmodSync(file, 0o600);
  return file;
};

const warningsOf = (file: string): string[] => {
  const said: string[] = [];
  loadServiceConfig({ file, warn: (message) => said.push(message) });
  return said;
};

describe('limits.maxPseudonymisedStreamsOfOperatorsAndAuditors in a config file', () => {
  it('is accepted and warned of once, naming the file, the setting and why it is no longer used', () => {
    const file = configFile({ maxPseudonymisedStreamsOfOperatorsAndAuditors: 4, maxPseudonymisedStreams: 8 });
    const said = warningsOf(file);
    expect(said).toEqual([expect.stringContaining(`file ${file}: ${SAID}`)]);
    expect(said[0]).toMatch(/link(s|ed) each pseudonym to its node/);
    expect(loadServiceConfig({ file }).limits.maxPseudonymisedStreams).toBe(8);
  });

  it('is not warned of when the file leaves it out', () => {
    expect(warningsOf(configFile({ maxPseudonymisedStreams: 8 }))).toEqual([]);
  });

  it('is still refused out of its bounds, as before (a typo is not silently taken)', () => {
    expect(() => loadServiceConfig({ file: configFile({ maxPseudonymisedStreamsOfOperatorsAndAuditors: 0 }) })).toThrow();
  });

  it('credence serve says it on stderr and goes on to its next check', async () => {
    const file = configFile({ maxPseudonymisedStreamsOfOperatorsAndAuditors: 4 });
    // A data path that cannot be a folder: serve refuses it (exit 2) after the configuration is loaded.
    const notAFolder = join(scratch(), 'afile');
    writeFileSync(notAFolder, 'not a folder');
    const run = await runCli(['serve', '--data', notAFolder, '--config', file]);
    expect(run.err).toContain(`warning: file ${file}: ${SAID}`);
    expect(run.err).not.toContain('unknown setting');
  });
});
