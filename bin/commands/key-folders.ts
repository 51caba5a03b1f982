import { existsSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { droppingOnlyOwnLockFiles } from '../../adapters/driven/files/data-folder-lock.ts';
import type { ClosableSecureEnvironment } from '../../adapters/runtime/data-folder.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { UsageError } from '../program.ts';
import { exportSettings } from './export-log-key.ts';
import { sayRemovedStrays, unusableDataFolderAsUsage } from './folder-lock.ts';
import { asOneKeyCommand } from './access-key-making-lock.ts';
import { PathArg } from './options.ts';

/** Where the keys are: the data folders and the Secure Environment their services run with (exportSettings). */
export interface KeyFolders {
  /** As `--data` named them (at least one): with a token, every folder it serves (keyFolders). */
  readonly data: readonly string[];
  /** `embedded`, a pkcs11: URI, or undefined (embedded). */
  readonly secureEnvironment: string | undefined;
  /** `--token-not-shared`: the operator says the one folder named is the only one the token serves. */
  readonly tokenNotShared: boolean;
  /** `--without-records`: with --token-not-shared, the one folder named holds no records on purpose (keyFolders). */
  readonly withoutRecords?: boolean;
}

/** `--data` (repeatable), `--token-not-shared` and `--config`, as `credence key` and `credence log-key` take them. */
export const KeyFolderOptions = {
  data: z.array(PathArg).min(1).optional(),
  tokenNotShared: z.boolean().optional(),
  withoutRecords: z.boolean().optional(),
  config: PathArg.optional(),
};

export const withKeyFolders = (command: Command): Command =>
  command
    .option(
      '--data <dir...>',
      "the data folder (env CREDENCE_DATA; default ./data, or the --config file's); with an HSM, every data folder served on that token (repeatable)",
    )
    .option('--token-not-shared', 'with an HSM: no data folder but the one --data names uses that token')
    .option('--without-records', 'with --token-not-shared: that folder holds no records on purpose (the token serves no data folder: a refused ca init removed the one it made)')
    .option(
      '--config <file>',
      "the service's configuration file (JSON, as credence serve --config): its data folder unless --data, its Secure Environment unless env CREDENCE_SECURE_ENVIRONMENT",
    );

/** The folders --data names (or the --config file's, or ./data) and the Secure Environment their services run with. */
export const keyFoldersOf = async (
  args: {
    readonly data?: readonly string[] | undefined;
    readonly tokenNotShared?: boolean | undefined;
    readonly withoutRecords?: boolean | undefined;
    readonly config?: string | undefined;
  },
  io: Io,
): Promise<KeyFolders> => {
  const { data, secureEnvironment } = await exportSettings({ config: args.config, data: args.data?.[0] }, io);
  return { data: args.data ?? [data], secureEnvironment, tokenNotShared: args.tokenNotShared === true, withoutRecords: args.withoutRecords === true };
};

/**
 * What a data folder holds once a service or a CLI command has used it: the event store, and every record the in-use
 * checks read (keys-in-use.ts: the CA and OCSP signer files under pki/, keys.db, a legacy readmodels.db, access.db,
 * transparency.handle). Not service-lock.db: taking a lock makes it, a mistaken run of this command too.
 */
const RECORDS = ['events.db', 'pki', 'keys.db', 'readmodels.db', 'access.db', 'transparency.handle'] as const;

/**
 * The data folders whose records are read before a key of their Secure Environment is destroyed, as `--data` named
 * them (review 61 finding 1). An embedded Secure Environment is in its folder: exactly that one. A token is not: every
 * folder it serves keeps its keys there under the same owners, so a folder left out would lose a key it uses, since
 * nothing tells this command which folders a token serves. One folder alone is therefore refused unless the operator
 * says it is the token's only one (`--token-not-shared`); a folder named twice would pass for two. Bad usage (exit 2).
 */
export const keyFolders = (named: readonly string[], embedded: boolean, tokenNotShared: boolean, withoutRecords = false): readonly string[] => {
  const seen = new Map<string, string>();
  for (const data of named) {
    if (!existsSync(data) || !statSync(data).isDirectory()) throw new UsageError(`--data: no data folder at ${data}`);
    const real = realpathSync(data);
    const before = seen.get(real);
    if (before !== undefined) throw new UsageError(`--data: ${before} and ${data} are the same data folder: name each once`);
    seen.set(real, data);
  }
  if (embedded) {
    if (tokenNotShared || withoutRecords) {
      const flag = tokenNotShared ? '--token-not-shared' : '--without-records';
      throw new UsageError(`${flag}: is for a pkcs11: Secure Environment (a token several data folders may use); the embedded one is in its data folder`);
    }
    if (named.length > 1) {
      throw new UsageError(`--data: the embedded Secure Environment is in its data folder: name that one folder (${named.length} named)`);
    }
    return named;
  }
  if (named.length > 1 && tokenNotShared) {
    throw new UsageError(`--token-not-shared: says no other data folder uses the token, yet --data names ${named.length}: give one or the other`);
  }
  // A folder holding no record reads as one that uses no key: a wrong path (the data folder's parent, a fresh ./data)
  // would pass for the folder it should have been, every key of the token read as unnamed, and a key the real folder
  // uses be destroyed (reviews 62 and 63). Only a token's one folder said to hold none on purpose passes (a refused
  // `ca init` removed the folder it made, whose key is all the token holds).
  const empty = named.find((data) => !RECORDS.some((name) => existsSync(join(data, name))));
  if (withoutRecords) {
    if (named.length > 1 || !tokenNotShared) throw new UsageError('--without-records: is for the one folder --token-not-shared names, when that token serves no data folder at all');
    if (empty === undefined) throw new UsageError(`--without-records: ${named[0]} holds Credence records: leave --without-records out, so they are checked`);
  } else if (empty !== undefined) {
    throw new UsageError([
      `--data: ${empty} holds no Credence records (none of ${RECORDS.join(', ')}): is it the data folder? Nothing was checked or destroyed`,
      'if the token serves no data folder at all (a refused ca init removed the one it made), name an empty folder with --token-not-shared --without-records',
    ]);
  }
  if (named.length === 1 && !tokenNotShared) {
    throw new UsageError([
      `--data: with a pkcs11: Secure Environment, name every data folder served on that token (--data A --data B …): their keys are all in the token under the same owners, and only the folders named are checked for a record that still uses the key`,
      `or, if ${named[0]} is the only data folder that token serves, say so with --token-not-shared`,
    ]);
  }
  return named;
};

/** What `withLockedKeyFolders` hands its caller: the folders checked, all locked, and their Secure Environment. */
export interface LockedKeyFolders {
  /** As keyFolders accepted them; the first is the one the Secure Environment is opened for. */
  readonly folders: readonly string[];
  /** Opens the Secure Environment once (later calls answer the same one); closed after `use`, locks still held. */
  secureEnvironment(): ClosableSecureEnvironment;
}

/**
 * Runs `use` under the lock of every folder keyFolders accepts (with a token, every folder it serves), so no service
 * starts meanwhile and makes, records or uses a key: `credence key destroy`, `key list`, `log-key destroy`. The
 * embedded Secure Environment is opened only when `use` asks, so a destroy reads every record first; a token is
 * opened first, and refused unless it holds a key of each folder that names any (refuseTokenHoldingNoneOfTheFolderKeys).
 * `command` names the command in what taking a lock says.
 */
export const withLockedKeyFolders = async <T>(
  { data: named, secureEnvironment, tokenNotShared, withoutRecords }: KeyFolders,
  command: string,
  io: Io,
  use: (locked: LockedKeyFolders) => Promise<T>,
): Promise<T> => {
  const env = io.env ?? process.env;
  const runtime = await import('../../adapters/runtime/data-folder.ts');
  const folders = keyFolders(named, runtime.isEmbedded(secureEnvironment), tokenNotShared, withoutRecords === true);
  const data = folders[0]!;
  const { secureEnvironmentConfigForDataDir } = await import('../../adapters/driven/secure-environment/index.ts');
  // Opening the embedded one would make an empty key database: a folder without one keeps its keys in an HSM.
  if (runtime.isEmbedded(secureEnvironment) && !existsSync(secureEnvironmentConfigForDataDir(data).database)) {
    throw new UsageError(
      `${data} has no embedded Secure Environment: set CREDENCE_SECURE_ENVIRONMENT to the pkcs11: URI the service runs with, or give --config with the service's configuration file`,
    );
  }
  const locks: { release(): void; drop(): void }[] = [];
  let se: ClosableSecureEnvironment | undefined;
  let refused = true;
  try {
    for (const folder of folders) {
      try {
        // Review 399: a refusal drops only this lock's own files, never `discard`, which on a folder that held nothing
        // sweeps what was added since: a local token command writes the folder without its lock (its access.db).
        const drop = droppingOnlyOwnLockFiles(folder);
        const lock = sayRemovedStrays(runtime.lockDataFolder(folder, env), folder, io, command);
        locks.push({ release: () => lock.release(), drop: () => drop(lock) });
      } catch (error) {
        throw unusableDataFolderAsUsage(error);
      }
    }
    const open = () => (se ??= runtime.openServiceSecureEnvironment(data, secureEnvironment, { now: () => new Date(), env }));
    if (!runtime.isEmbedded(secureEnvironment)) {
      // Review 230: a token holding none of the keys a folder names is not the one that folder's service runs with:
      // its keys would be listed as none, or said destroyed already, and a key of its own token left as it is.
      const { refuseTokenHoldingNoneOfTheFolderKeys } = await import('../../adapters/runtime/folder-keys-in-token.ts');
      for (const folder of folders) await refuseTokenHoldingNoneOfTheFolderKeys(open(), folder, secureEnvironment);
    }
    // Every wait for a local token command's key-making lock shares one deadline, said on stderr (access-key-making-lock.ts).
    const done = await asOneKeyCommand((line) => io.err(printable(line)), () => use({ folders, secureEnvironment: open }));
    refused = false;
    return done;
  } finally {
    se?.close();
    // A refused command writes nothing but its lock: the lock's database goes where this lock made it.
    for (const lock of locks.reverse()) refused ? lock.drop() : lock.release();
  }
};
