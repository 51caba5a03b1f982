import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { DEFAULT_STORE, openStore, parseStoreConnectionString } from '../adapters/driven/store/open-store.ts';
import { EventStoreDbStore, toClientConnectionString } from '../adapters/driven/store/eventstoredb/index.ts';
import { startStandIn } from './esdb-standin/index.ts';

// The client reads a TLS connection's CA file when it connects; the setting's parse refuses one that names no file.
const CA = join(mkdtempSync(join(tmpdir(), 'credence-open-store-ca-')), 'ca.crt');
writeFileSync(CA, '');
afterAll(() => rmSync(dirname(CA), { recursive: true, force: true }));

describe('choosing the event store from a connection string', () => {
  it.each([
    ['sqlite:./data', { kind: 'sqlite', dir: './data' }],
    ['sqlite:/var/lib/credence', { kind: 'sqlite', dir: '/var/lib/credence' }],
    ['sqlite::memory:', { kind: 'sqlite-memory' }],
    ['esdb://localhost:2113?tls=false', { kind: 'eventstoredb', connectionString: 'esdb://localhost:2113?tls=false' }],
    ['esdb+discover://cluster.example.com:2113', { kind: 'eventstoredb', connectionString: 'esdb+discover://cluster.example.com:2113' }],
    [
      `kurrentdb://admin:changeit@a:2113,b:2113,c:2113?tls=true&tlsCAFile=${CA}`,
      { kind: 'eventstoredb', connectionString: `kurrentdb://admin:changeit@a:2113,b:2113,c:2113?tls=true&tlsCAFile=${CA}` },
    ],
    ['kurrentdb+discover://cluster.example.com', { kind: 'eventstoredb', connectionString: 'kurrentdb+discover://cluster.example.com' }],
  ])('reads %s', (value, expected) => {
    expect(parseStoreConnectionString(value)).toEqual(expected);
  });

  it('defaults to the embedded store in ./data', () => {
    expect(DEFAULT_STORE).toBe('sqlite:./data');
    expect(parseStoreConnectionString(undefined)).toEqual({ kind: 'sqlite', dir: './data' });
  });

  it.each(['', 'sqlite:', 'esdb://', 'http://localhost:2113', 'postgres://x', 'esdb://user:s3cret-pw@ bad host'])(
    'refuses %j with a validation error that does not repeat the string',
    (value) => {
      let error: unknown;
      try {
        parseStoreConnectionString(value);
      } catch (e) {
        error = e;
      }
      expect(isCredenceError(error, 'validation')).toBe(true);
      expect((error as Error).message).not.toContain('s3cret-pw');
      expect((error as Error).message).toContain('esdb://');
    },
  );

  it('rewrites kurrentdb schemes to esdb for the 6.x client and leaves the rest alone', () => {
    expect(toClientConnectionString('kurrentdb://u:p@h:2113?tls=false')).toBe('esdb://u:p@h:2113?tls=false');
    expect(toClientConnectionString('KurrentDB+Discover://h')).toBe('esdb+discover://h');
    expect(toClientConnectionString('ESDB://h:1')).toBe('esdb://h:1');
  });

  it('opens a working EventStoreDB store from a kurrentdb:// string', async () => {
    const standIn = await startStandIn();
    const store = openStore(`kurrentdb://127.0.0.1:${standIn.port}?tls=false`);
    try {
      expect(store).toBeInstanceOf(EventStoreDbStore);
      const stream = `node-${randomUUID()}`;
      await store.appendToStream(stream, [{ id: randomUUID(), type: 'A', data: {}, metadata: {} }], {
        expectedRevision: ExpectedRevision.noStream,
      });
      expect(standIn.log.stream(stream)).toHaveLength(1);
    } finally {
      await store.close();
      await standIn.stop();
    }
  });

  it('opens the embedded store in memory and in a folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'credence-open-store-'));
    try {
      for (const store of [openStore('sqlite::memory:'), openStore(`sqlite:${join(dir, 'data')}`)]) {
        const result = await store.appendToStream('node-1', [{ id: randomUUID(), type: 'A', data: {}, metadata: {} }], {
          expectedRevision: ExpectedRevision.noStream,
        });
        expect((await store.readStream('node-1'))[0]!.position).toBe(result.position);
        await store.close();
      }
      expect((await stat(join(dir, 'data', 'events.db'))).isFile()).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
