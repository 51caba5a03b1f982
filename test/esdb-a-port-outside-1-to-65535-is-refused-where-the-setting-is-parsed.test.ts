/**
 * Review 422 finding 2: the EventStoreDB client's parser takes any integer as a host's port (it reads the digits the
 * port starts with), so `kurrentdb://u:PW@host:99999` and `esdb://u:PW@h:-1` passed the store setting's check, and
 * `serve` failed only after its 10 s wait, exit 3, blaming an event store that is not running. A port is checked where
 * the setting is parsed now: each host's port, when given, is a whole number from 1 to 65535, or the setting is
 * refused (exit 2, naming the setting), quoting neither the string nor its password.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { connectionStringProblems } from '../adapters/driven/store/eventstoredb/index.ts';
import { spawnCli as credence } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const PASSWORD = 'Pw7-port-check';
const SAID = /port must be a whole number from 1 to 65535/;
const folder = temporaryFolders('credence-esdb-port-');

const issuesOf = (sources: Parameters<typeof loadServiceConfig>[0]) => {
  try {
    loadServiceConfig(sources);
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues;
    throw error;
  }
  throw new Error('accepted');
};

describe('an EventStoreDB connection string with a port outside 1–65535', () => {
  it.each([
    ['above 65535', `kurrentdb://u:${PASSWORD}@host:99999`],
    ['negative', `esdb://u:${PASSWORD}@h:-1`],
    ['0', `esdb://u:${PASSWORD}@h:0`],
    ['65536, on a discovered cluster', `esdb+discover://u:${PASSWORD}@cluster.example:65536?tls=false`],
    ['on the second host of several', `esdb://u:${PASSWORD}@a:2113,b:70000?tls=false`],
    ['written with a fraction (the client would read 2113)', `esdb://u:${PASSWORD}@h:2113.5`],
    ['written with an exponent (the client would read 1)', `esdb://u:${PASSWORD}@h:1e3`],
  ])('%s is refused where the setting is parsed, quoting neither the port nor the password', (_what, value) => {
    const problems = connectionStringProblems(value);
    expect(problems).toEqual([expect.stringMatching(SAID)]);
    for (const problem of problems) for (const part of [PASSWORD, '99999', '70000', '65536', '2113.5', '1e3', 'cluster.example']) expect(problem).not.toContain(part);
  });

  it('is refused by the service configuration, naming the setting it came from', () => {
    for (const [sources, path] of [
      [{ flags: { store: `kurrentdb://u:${PASSWORD}@host:99999` } }, 'flag --store'],
      [{ env: { CREDENCE_STORE: `esdb://u:${PASSWORD}@h:-1` } }, 'env CREDENCE_STORE'],
    ] as const) {
      const issues = issuesOf(sources);
      expect(issues).toEqual([expect.objectContaining({ path, message: expect.stringMatching(SAID) })]);
      expect(JSON.stringify(issues)).not.toContain(PASSWORD);
    }
  });

  it('serve with CREDENCE_STORE on port 99999 is exit 2 before connecting, naming CREDENCE_STORE, and makes no folder', async () => {
    const data = join(folder(), 'new');
    const r = await credence(['serve', '--data', data, '--port', '0'], { CREDENCE_STORE: `esdb://u:${PASSWORD}@127.0.0.1:99999?tls=false` });
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/^error: env CREDENCE_STORE: .*port must be a whole number from 1 to 65535/m);
    expect(`${r.out}\n${r.err}`).not.toContain(PASSWORD);
    expect(existsSync(data)).toBe(false);
    // Refused before connecting (it was exit 3 after the 10 s deadline, the client's UNAVAILABLE and a hint to start the store).
    expect(r.err).not.toMatch(/UNAVAILABLE|running/);
  }, 30_000);

  it.each([
    ['the lowest port', 'esdb://h:1'],
    ['the highest port', 'esdb://u:p@h:65535?tls=false'],
    ['no port (2113)', 'esdb://localhost?tls=false'],
    ['several hosts', 'esdb://a:2113,b:2113,c:2114?tls=false'],
    ['a discovered cluster', `kurrentdb+discover://u:${PASSWORD}@cluster.example:2113?tls=false`],
    ['a trailing slash', 'esdb://localhost:2113/'],
    ['a leading zero', 'esdb://localhost:02113'],
  ])('is accepted with %s', (_what, value) => {
    expect(connectionStringProblems(value)).toEqual([]);
  });

  it('adds no port problem to an IPv6 host, which the client’s own parser does not read', () => {
    // The 6.x parser takes no `[` in a host: `[::1]:2113` was refused before this check, and is still for that alone.
    for (const value of ['esdb://[::1]:2113', 'esdb://a:2113,[::1]:2113']) {
      expect(connectionStringProblems(value)).toEqual([expect.stringMatching(/^must be scheme:\/\/\[user:password@\]host/)]);
    }
  });
});
