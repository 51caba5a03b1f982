/**
 * Whether an event store connection string carries a password: `esdb://user:password@…` (or kurrentdb, +discover),
 * the only place the EventStoreDB connection string holds a secret (certificates and keys are named as files).
 * Review 47 item 3: such a string on the command line shows in /proc/<pid>/cmdline and shell history, and in a
 * config file others can read it is theirs, so both are said on stderr, never echoing the string.
 *
 * Split as the client splits it (its parseConnectionString, after the string is trimmed): the user name up to the
 * first `:`, the password from there up to the next `@`, then `.trim().split(':')`. Review 298 item 1: stopping
 * them at `/`, `?` or `#` instead missed `esdb://admin:Se?cret@…`, which the client reads as password `Se?cret`.
 * Nor do they end with the authority (review 304 item 3): the client reads `esdb://h:2113/?a=b:c@d` as user h,
 * password `2113/?a=b`, host d, and sends that password, so it is one on the command line as much as any.
 * Not the client's parser itself: only the store adapter loads the client (eventstoredb/connection-string.ts); the
 * test holds the two to the same answer.
 */
const CLIENT_CREDENTIALS = /^(?:esdb|kurrentdb)(?:\+discover)?:\/\/([^:]+:[^@]+)@/i;

export const storeCarriesPassword = (connection: unknown): boolean => {
  if (typeof connection !== 'string') return false;
  const credentials = CLIENT_CREDENTIALS.exec(connection.trim())?.[1];
  return credentials !== undefined && (credentials.trim().split(':')[1] ?? '') !== '';
};

/** What to say when `--store` carries a password (`alternative`: where the command can take it instead). */
export const storePasswordOnCommandLine = (alternative: string): string =>
  `--store: the connection string carries a password, which other users of this machine can read in the process list (/proc/<pid>/cmdline) and which stays in shell history; ${alternative}`;
