import { existsSync, realpathSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { UsageError } from '../program.ts';
import { PathArg } from './options.ts';

/** `--data` (repeatable) and `--token-not-shared`, as `credence key destroy` and `credence log-key destroy` take them. */
export const KeyFolderOptions = {
  data: z.array(PathArg).min(1).optional(),
  tokenNotShared: z.boolean().optional(),
};

export const withKeyFolders = (command: Command): Command =>
  command
    .option(
      '--data <dir...>',
      "the data folder (default ./data, or the --config file's); with an HSM, every data folder served on that token (repeatable)",
    )
    .option('--token-not-shared', 'with an HSM: no data folder but the one --data names uses that token');

/**
 * The data folders whose records are read before a key of their Secure Environment is destroyed, as `--data` named
 * them (review 61 finding 1). An embedded Secure Environment is in its folder: exactly that one. A token is not: every
 * folder it serves keeps its keys there under the same owners, so a folder left out would lose a key it uses, since
 * nothing tells this command which folders a token serves. One folder alone is therefore refused unless the operator
 * says it is the token's only one (`--token-not-shared`); a folder named twice would pass for two. Bad usage (exit 2).
 */
export const keyFolders = (named: readonly string[], embedded: boolean, tokenNotShared: boolean): readonly string[] => {
  const seen = new Map<string, string>();
  for (const data of named) {
    if (!existsSync(data) || !statSync(data).isDirectory()) throw new UsageError(`--data: no data folder at ${data}`);
    const real = realpathSync(data);
    const before = seen.get(real);
    if (before !== undefined) throw new UsageError(`--data: ${before} and ${data} are the same data folder: name each once`);
    seen.set(real, data);
  }
  if (embedded) {
    if (tokenNotShared) {
      throw new UsageError('--token-not-shared: is for a pkcs11: Secure Environment (a token several data folders may use); the embedded one is in its data folder');
    }
    if (named.length > 1) {
      throw new UsageError(`--data: the embedded Secure Environment is in its data folder: name that one folder (${named.length} named)`);
    }
    return named;
  }
  if (named.length > 1 && tokenNotShared) {
    throw new UsageError(`--token-not-shared: says no other data folder uses the token, yet --data names ${named.length}: give one or the other`);
  }
  if (named.length === 1 && !tokenNotShared) {
    throw new UsageError([
      `--data: with a pkcs11: Secure Environment, name every data folder served on that token (--data A --data B …): their keys are all in the token under the same owners, and only the folders named are checked for a record that still uses the key`,
      `or, if ${named[0]} is the only data folder that token serves, say so with --token-not-shared`,
    ]);
  }
  return named;
};
