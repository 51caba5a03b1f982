import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConnectionString } from '@eventstore/db-client/dist/Client/parseConnectionString.js';
import { describe, expect, it } from 'vitest';
import { toClientConnectionString } from '../adapters/driven/store/eventstoredb/connection-string.ts';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { storeCarriesPassword } from '../adapters/http/store-password.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 298 item 1: storeCarriesPassword stopped the user name and the password at `/`, `?` or `#`, while the
 * EventStoreDB client reads the password up to the `@` (`esdb://admin:Se?cret@…` is user admin, password Se?cret).
 * Such a password was neither warned of on the command line nor in a config file others can read.
 */
const scratch = temporaryFolders('credence-store-password-client-');
const STRINGS = [
  'esdb://admin:Se?cret@127.0.0.1:2113?tls=false',
  'esdb://ad?min:Secret@127.0.0.1:2113?tls=false',
  'esdb://admin:Se/cr#et@127.0.0.1:2113?tls=false',
  'kurrentdb+discover://admin:changeit@cluster.example:2113',
  'esdb://admin:changeit@127.0.0.1:2113',
  'esdb://127.0.0.1:2113?tls=false',
  'esdb://127.0.0.1:2113,127.0.0.2:2113?tlsVerifyCert=true',
  // Review 304 item 3: a ':' and an '@' after the host. The client's rule (parseCredentials: `[^:]+:[^@]+` and '@'
  // right after the scheme, no end at '/', '?' or '#') reads this as user h, password `2113/?a=b`, host d, so it does
  // carry a password, as it does across the '?' below.
  'esdb://h:2113/?a=b:c@d',
  'esdb://admin:Se?cret@127.0.0.1:1?tls=false',
  'esdb://h:2113/?tls=false',
];

const clientPassword = (connection: string): boolean => {
  const password = parseConnectionString(toClientConnectionString(connection)).defaultCredentials?.password;
  return password !== undefined && password !== '';
};

const warningsOf = (sources: Parameters<typeof loadServiceConfig>[0]): string[] => {
  const said: string[] = [];
  loadServiceConfig({ ...sources, warn: (message) => said.push(message) });
  return said;
};

describe('a store password is found where the event store client reads it', () => {
  it.each(STRINGS)('agrees with the client on %s', (connection) => {
    expect(storeCarriesPassword(connection)).toBe(clientPassword(connection));
  });

  it('the client reads a ":" and "@" past the host as credentials, and so does the check', () => {
    expect(parseConnectionString('esdb://h:2113/?a=b:c@d').defaultCredentials).toEqual({ username: 'h', password: '2113/?a=b' });
    expect(storeCarriesPassword('esdb://h:2113/?a=b:c@d')).toBe(true);
    expect(parseConnectionString('esdb://admin:Se?cret@127.0.0.1:1?tls=false').defaultCredentials).toEqual({ username: 'admin', password: 'Se?cret' });
    expect(storeCarriesPassword('esdb://admin:Se?cret@127.0.0.1:1?tls=false')).toBe(true);
  });

  it.each(['esdb://admin:Se?cret@127.0.0.1:2113?tls=false', 'esdb://ad?min:Secret@127.0.0.1:2113?tls=false'])('%s on the command line is warned of, never echoed', (store) => {
    const said = warningsOf({ flags: { store } });
    expect(said.join('\n')).toContain('--store: the connection string carries a password');
    expect(said.join('\n')).not.toContain('ecret');
  });

  it.each(['esdb://admin:Se?cret@127.0.0.1:2113?tls=false', 'esdb://ad?min:Secret@127.0.0.1:2113?tls=false'])('%s in a config file others can read is warned of; chmod 600 silences it', (store) => {
    const file = join(scratch(), 'credence.json');
    writeFileSync(file, JSON.stringify({ store }));
    chmodSync(file, 0o644);
    const said = warningsOf({ file });
    expect(said.join('\n')).toContain(`file ${file}: store: the connection string carries a password and the file is readable by group or others; chmod 600 ${file}`);
    expect(said.join('\n')).not.toContain('ecret');
    chmodSync(file, 0o600);
    expect(warningsOf({ file })).toEqual([]);
  });
});
