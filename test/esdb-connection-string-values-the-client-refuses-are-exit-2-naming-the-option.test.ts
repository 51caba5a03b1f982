import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { parseStoreConnectionString } from '../adapters/driven/store/open-store.ts';
import { connectionStringFileProblems, connectionStringProblems, EventStoreDbError, openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { spawnCli as credence } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Found in review 316: values the 6.x client's parser reads but its constructor refuses (a defaultDeadline of 0 or
 * less, a keepAliveInterval/keepAliveTimeout below -1, one of userCertFile/userKeyFile alone) passed the store
 * setting's parse; `serve` then failed with exit 1 and the client's own message, naming no setting. They are refused
 * where the setting is parsed, as the client's rules say (node_modules/@eventstore/db-client/dist/Client/index.js):
 * exit 2 naming the option, the rule and the setting. A certificate file that is not there is named where the store
 * is connected to (review 317: checked at the parse, it refused `credence token --config` run from another folder,
 * which never connects).
 */

const PASSWORD = 'hunter2-esdb';
const folder = temporaryFolders('credence-esdb-refused-values-');


const MISSING = '/nonexistent-credence-test/ca.crt';

/** [options, the problem said]: each a value the client refuses only once it builds its connection. */
const refused: [string, RegExp][] = [
  ['defaultDeadline=0', /^defaultDeadline must be at least 1 ms/],
  ['defaultDeadline=-5', /^defaultDeadline must be at least 1 ms/],
  ['keepAliveInterval=-2', /^keepAliveInterval must be -1 \(off\) or 0 or more ms/],
  ['keepAliveTimeout=-5000', /^keepAliveTimeout must be -1 \(off\) or 0 or more ms/],
  [`tls=true&userCertFile=${MISSING}`, /^userCertFile and userKeyFile must be given together/],
  [`tls=true&userKeyFile=${MISSING}`, /^userCertFile and userKeyFile must be given together/],
];

describe('a connection-string value the EventStoreDB client refuses when it connects', () => {
  it.each(refused)('%s is refused where the setting is parsed, naming the option and its rule', (options, said) => {
    const value = `esdb://admin:${PASSWORD}@127.0.0.1:2113?${options}`;
    expect(connectionStringProblems(value)).toEqual([expect.stringMatching(said)]);
    let error: unknown;
    try {
      parseStoreConnectionString(value);
    } catch (e) {
      error = e;
    }
    expect(isCredenceError(error, 'validation')).toBe(true);
    expect((error as Error).message).not.toContain(PASSWORD);
    expect((error as Error).message).not.toContain(MISSING);
  });

  it('names missing certificate files without their paths where the store is connected to, and accepts files that exist', () => {
    const dir = folder();
    for (const name of ['ca.crt', 'c.crt', 'c.key']) writeFileSync(join(dir, name), 'x');
    const [ca, cert, key] = [join(dir, 'ca.crt'), join(dir, 'c.crt'), join(dir, 'c.key')] as const;
    expect(connectionStringFileProblems(`esdb://host?tls=true&tlsCAFile=${ca}&userCertFile=${cert}&userKeyFile=${key}`)).toEqual([]);
    expect(connectionStringFileProblems(`esdb://host?tlsCAFile=${MISSING}`)).toEqual([expect.stringMatching(/^tlsCAFile names no file/)]);
    // A folder is no file: the client's read of it fails (EISDIR).
    expect(connectionStringFileProblems(`esdb://host?tlsCAFile=${dir}`)).toEqual([expect.stringMatching(/^tlsCAFile names no file/)]);
    expect(connectionStringFileProblems(`esdb://host?userCertFile=${cert}&userKeyFile=${MISSING}`)).toEqual([expect.stringMatching(/^userKeyFile names no file/)]);
    expect(connectionStringFileProblems(`esdb://host?userCertFile=${MISSING}&userKeyFile=${key}`)).toEqual([expect.stringMatching(/^userCertFile names no file/)]);
    for (const problem of connectionStringFileProblems(`esdb://host?userCertFile=${MISSING}&userKeyFile=${MISSING}`)) expect(problem).not.toContain(MISSING);
    expect(connectionStringFileProblems(`esdb://host?tls=false&tlsCAFile=${MISSING}`)).toEqual([]);
  });

  it('leaves the files to the connection where the setting is parsed: a --config read without connecting, from another folder, takes a relative path (review 317)', () => {
    expect(connectionStringProblems('esdb://host?tls=true&tlsCAFile=ca.crt&userCertFile=credence.crt&userKeyFile=credence.key')).toEqual([]);
    expect(parseStoreConnectionString(`esdb://host?tlsCAFile=${MISSING}`)).toMatchObject({ kind: 'eventstoredb' });
  });

  it('refuses to connect with a missing CA file, naming the option and not the path', () => {
    let error: unknown;
    try {
      openEventStoreDbStore(`esdb://admin:${PASSWORD}@127.0.0.1:1?tls=true&tlsCAFile=${MISSING}`);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EventStoreDbError);
    expect((error as Error).message).toMatch(/tlsCAFile names no file/);
    expect((error as Error).message).not.toContain(MISSING);
    expect((error as Error).message).not.toContain(PASSWORD);
  });

  it('leaves what the client accepts: a CA file on a connection without TLS (it ignores it), -1 keep-alives, a 1 ms deadline', () => {
    expect(connectionStringProblems(`esdb://host?tls=false&tlsCAFile=${MISSING}`)).toEqual([]);
    expect(connectionStringProblems('esdb://host?tls=false&keepAliveInterval=-1&keepAliveTimeout=-1&defaultDeadline=1')).toEqual([]);
    expect(connectionStringProblems('esdb://host?tls=false&keepAliveInterval=0&keepAliveTimeout=0')).toEqual([]);
  });

  it.each([
    ['defaultDeadline=0', 'defaultDeadline'],
    ['keepAliveInterval=-2', 'keepAliveInterval'],
    ['keepAliveTimeout=-2', 'keepAliveTimeout'],
  ])('serve --store …?%s is exit 2 naming --store and %s, and creates nothing', async (options, key) => {
    const dir = folder();
    const r = await credence(['serve', '--data', dir, '--port', '0', '--store', `esdb://admin:${PASSWORD}@127.0.0.1:1?${options}`]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(new RegExp(`^error: flag --store: ${key} `, 'm'));
    expect(`${r.out}\n${r.err}`).not.toContain(PASSWORD);
    expect(readdirSync(dir)).toEqual([]);
  });
});
