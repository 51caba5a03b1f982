/**
 * Whether an event store connection string carries a password: `esdb://user:password@…` (or kurrentdb, +discover),
 * the only place the EventStoreDB connection string holds a secret (certificates and keys are named as files).
 * Review 47 item 3: such a string on the command line shows in /proc/<pid>/cmdline and shell history, and in a
 * config file others can read it is theirs, so both are said on stderr, never echoing the string.
 */
export const storeCarriesPassword = (connection: unknown): boolean =>
  typeof connection === 'string' && /^\s*(?:esdb|kurrentdb)(?:\+discover)?:\/\/[^@\s/?#:]*:[^@\s/?#]+@/i.test(connection);

/** What to say when `--store` carries a password (`alternative`: where the command can take it instead). */
export const storePasswordOnCommandLine = (alternative: string): string =>
  `--store: the connection string carries a password, which other users of this machine can read in the process list (/proc/<pid>/cmdline) and which stays in shell history; ${alternative}`;
