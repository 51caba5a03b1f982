import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 298 items 2 and 3: a check of two settings together named neither's source ("probePort: must differ from
 * port (9100)" when one came from the environment and the other from the file), and CREDENCE_DURABILITY=normal beside
 * a store string saying durability=full passed the configuration and failed at start, exit 1, naming no source.
 */
const scratch = temporaryFolders('credence-two-settings-');

const configFile = (content: object): string => {
  const file = join(scratch(), 'credence.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
};

const issuesOf = (sources: Parameters<typeof loadServiceConfig>[0]): { path: string; rule: string; message: string }[] => {
  try {
    loadServiceConfig(sources);
  } catch (error) {
    return (error as { problem: { issues: { path: string; rule: string; message: string }[] } }).problem.issues;
  }
  throw new Error('accepted');
};

describe('a check spanning two settings names where each was set', () => {
  it('env CREDENCE_PROBE_PORT against the file port', () => {
    const file = configFile({ port: 9100 });
    const [issue, ...more] = issuesOf({ file, env: { CREDENCE_PROBE_PORT: '9100' } });
    expect(more).toEqual([]);
    expect(issue).toMatchObject({ path: 'env CREDENCE_PROBE_PORT', rule: 'probe_port_apart' });
    expect(issue!.message).toContain(`(port from file ${file})`);
  });

  it('a flag --probe-port against the default port', () => {
    const [issue] = issuesOf({ flags: { probePort: 8080 } });
    expect(issue).toMatchObject({ path: 'flag --probe-port', rule: 'probe_port_apart' });
    expect(issue!.message).toContain('(port by default)');
  });

  it('limits.sseHeartbeatMs and limits.maxEntityRecords against the file or the default', () => {
    const file = configFile({ limits: { sseHeartbeatMs: 70_000, maxEntityRecords: 5, maxEntityEvents: 10 } });
    const issues = issuesOf({ file });
    expect(issues.find((i) => i.rule === 'records_at_least_events')).toMatchObject({ path: `file ${file}: limits.maxEntityRecords` });
    expect(issues.find((i) => i.rule === 'records_at_least_events')!.message).toContain(`(limits.maxEntityEvents from file ${file})`);
    expect(issues.find((i) => i.rule === 'heartbeat_within_connection_timeout')).toMatchObject({ path: `file ${file}: limits.sseHeartbeatMs` });
    expect(issues.find((i) => i.rule === 'heartbeat_within_connection_timeout')!.message).toContain('(limits.connectionTimeoutMs by default)');
  });

  it('CREDENCE_DURABILITY against the store string of a flag or the file', () => {
    const [issue] = issuesOf({ env: { CREDENCE_DURABILITY: 'normal' }, flags: { store: 'sqlite:/tmp/x?durability=full' } });
    expect(issue).toMatchObject({ path: 'env CREDENCE_DURABILITY', rule: 'durability_conflict' });
    expect(issue!.message).toContain('(store from flag --store)');
    const file = configFile({ store: 'sqlite:/tmp/x?durability=normal' });
    const [fromFile] = issuesOf({ file, env: { CREDENCE_DURABILITY: 'full' } });
    expect(fromFile!.message).toContain(`(store from file ${file})`);
    expect(loadServiceConfig({ env: { CREDENCE_DURABILITY: 'full' }, flags: { store: 'sqlite:/tmp/x?durability=full' } }).durability).toBe('full');
  });

  it('serve refuses the durability conflict with exit 2 before anything opens', async () => {
    const data = join(scratch(), 'data');
    const run = await runCli(['serve', '--data', data, '--store', `sqlite:${data}?durability=full`], { CREDENCE_DURABILITY: 'normal' });
    expect(run.code).toBe(2);
    expect(run.err).toContain('env CREDENCE_DURABILITY');
    expect(run.err).toContain('(store from flag --store)');
  });
});
