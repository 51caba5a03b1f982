import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { parseStoreConnectionString } from '../adapters/driven/store/open-store.ts';
import { EventStoreDbError, openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { spawnCli as credence } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { closedPort } from './support/closed-port.ts';

/*
 * Found in review 24: the EventStoreDB client's connection-string parser console.warns the whole string, password
 * included, for `tlsVerifyCert=false` and for any option key it does not know; and a string only the client could
 * not read (`esdb://admin:x@[::1`) passed the store setting's parse, so it failed later with exit 1, naming no
 * setting, after `serve` had created the data folder's files. Now the client's own parser reads the string where the
 * setting is parsed: what it cannot read, and an option it would ignore, is exit 2 naming the setting and its
 * source, before anything is written; its tlsVerifyCert warning is said with the password taken out.
 */

const PASSWORD = 'hunter2-esdb';
const folder = temporaryFolders('credence-esdb-secret-');


describe('an EventStoreDB connection string with a password', () => {
  it('with tlsVerifyCert=false: the client warning is printed with the password redacted (--store)', async () => {
    const store = `esdb://admin:${PASSWORD}@127.0.0.1:${await closedPort()}?tls=true&tlsVerifyCert=false`;
    const r = await credence(['history', 'credential-meter-1', '--store', store, '--json']);
    expect(`${r.out}\n${r.err}`).not.toContain(PASSWORD);
    expect(r.code).toBe(3); // nobody listens: the read fails, after the warning, as an unreachable server (review 46)
    expect(r.err).toContain('tlsVerifyCert');
    expect(r.err).toMatch(/esdb:\/\/admin:\*\*\*@127\.0\.0\.1:\d+\?tls=true&tlsVerifyCert=false/);
  });

  it('with tlsVerifyCert=false: serve given it by env CREDENCE_STORE prints no password', async () => {
    const dir = folder();
    const store = `kurrentdb://admin:${PASSWORD}@127.0.0.1:${await closedPort()}?tlsVerifyCert=false`;
    const r = await credence(['serve', '--data', dir, '--port', '0'], { CREDENCE_STORE: store });
    expect(`${r.out}\n${r.err}`).not.toContain(PASSWORD);
    expect(r.err).toContain('esdb://admin:***@');
  });

  it('with an option the client does not know: exit 2 naming the option, --store, and no password', async () => {
    const store = `esdb://admin:${PASSWORD}@127.0.0.1:${await closedPort()}?tls=false&nodePrefrence=leader`;
    const r = await credence(['history', 'credential-meter-1', '--store', store, '--json']);
    expect(`${r.out}\n${r.err}`).not.toContain(PASSWORD);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error: --store: unknown option nodePrefrence\b/m);
  });

  it('with an option the client does not know: serve refuses it naming env CREDENCE_STORE and creates nothing', async () => {
    const dir = folder();
    const r = await credence(['serve', '--data', dir], { CREDENCE_STORE: `esdb://admin:${PASSWORD}@127.0.0.1:1?tlsCertFile=ca.crt` });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error: env CREDENCE_STORE: unknown option tlsCertFile\b/m);
    expect(`${r.out}\n${r.err}`).not.toContain(PASSWORD);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('a malformed EventStoreDB connection string', () => {
  const malformed = `esdb://admin:${PASSWORD}@[::1`;

  it('is exit 2 naming --store and what the client expected, without the password', async () => {
    const r = await credence(['history', 'credential-meter-1', '--store', malformed, '--json']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error: --store: must be scheme:\/\/\[user:password@\]host.*: expected host$/m);
    expect(`${r.out}\n${r.err}`).not.toContain(PASSWORD);
  });

  it.each([
    ['env CREDENCE_STORE', [], { CREDENCE_STORE: malformed }],
    ['flag --store', ['--store', malformed], {}],
    ['file', ['--config', 'CONFIG'], {}],
  ] as const)('is refused by serve naming %s, before anything is written in --data', async (source, flags, env) => {
    const dir = folder();
    const config = join(folder(), 'credence.json');
    writeFileSync(config, JSON.stringify({ store: malformed }));
    const r = await credence(['serve', '--data', dir, ...flags.map((flag) => (flag === 'CONFIG' ? config : flag))], env);
    expect(r.code).toBe(2);
    const named = source === 'file' ? `file ${config}: store` : source;
    expect(r.err).toContain(`error: ${named}: must be scheme://`);
    expect(`${r.out}\n${r.err}`).not.toContain(PASSWORD);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each([
    `esdb://admin:${PASSWORD}@host:2113?nodePreference=nearest`,
    `esdb://admin:${PASSWORD}@host:2113:1`,
    `esdb://admin:${PASSWORD}@host:port`,
    `kurrentdb://admin:${PASSWORD}@host?tls=maybe`,
    `esdb://admin:${PASSWORD}%ZZ@host`,
    `esdb://admin@host`,
  ])('%s is a validation error of the setting that does not repeat the password', (value) => {
    let error: unknown;
    try {
      parseStoreConnectionString(value);
    } catch (e) {
      error = e;
    }
    expect(isCredenceError(error, 'validation')).toBe(true);
    expect(JSON.stringify((error as { problem: unknown }).problem)).not.toContain(PASSWORD);
    expect((error as Error).message).not.toContain(PASSWORD);
  });

  it('is refused the same way when opened directly, without going through the setting', () => {
    for (const value of [malformed, `esdb://admin:${PASSWORD}@host?nodePrefrence=leader`]) {
      let error: unknown;
      try {
        openEventStoreDbStore(value);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(EventStoreDbError);
      expect((error as Error).message).toMatch(/^invalid EventStoreDB connection string: /);
      expect((error as Error).message).not.toContain(PASSWORD);
    }
  });

  it('leaves a well-formed string with tlsVerifyCert=false and the documented options accepted', () => {
    // The files must exist: the client reads them when it connects, and the setting's parse refuses missing ones.
    const dir = folder();
    const [ca, cert, key] = [join(dir, 'ca.crt'), join(dir, 'c.crt'), join(dir, 'c.key')] as const;
    for (const file of [ca, cert, key]) writeFileSync(file, '');
    for (const value of [
      `esdb://admin:${PASSWORD}@host:2113?tls=true&tlsVerifyCert=false`,
      `kurrentdb+discover://admin:${PASSWORD}@cluster:2113?tlsCAFile=${ca}&nodePreference=leader&keepAliveInterval=10000&defaultDeadline=5000&connectionName=credence`,
      `esdb://host:2113?tls=true&tlsCAFile=${ca}&userCertFile=${cert}&userKeyFile=${key}`,
    ]) {
      expect(parseStoreConnectionString(value)).toEqual({ kind: 'eventstoredb', connectionString: value });
    }
  });
});
