import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { z } from 'zod';
import { ACCESS_DB_FILE } from '../../adapters/driven/access/sqlite-access-registry.ts';
import { refuseUnwritableFolder } from '../../adapters/driven/files/index.ts';
import type { AccessControl } from '../../adapters/http/auth/access-control.ts';
import { tokenSummary, tokenSummaryJson } from '../../adapters/http/auth/token-summary.ts';
import type { ServiceConfig } from '../../adapters/http/config.ts';
import type { Io } from '../io.ts';
import { UsageError } from '../program.ts';
import { namingRefusedWrites } from '../write-failure.ts';
import { holdAccessKeyMaking } from './access-key-making-lock.ts';
import { PathArg, readTarget, ServerOptions, type ServerTarget } from './options.ts';

/** Where a `credence token` command acts: a server (`--server`), or the data folder that holds access.db (`--data`). */

export const Target = z.object({
  data: PathArg.optional(),
  config: PathArg.optional(),
  json: z.boolean().default(false),
  ...ServerOptions,
});
export type Target = z.infer<typeof Target>;

/** The server when the command goes through one; --config names the local service's file, so it means local. */
export const targetOf = (args: Target, io: Io): ServerTarget | undefined => {
  if (args.config === undefined) return readTarget(args, io);
  if (args.server !== undefined) throw new UsageError('--config: a server applies its own configuration; give --config without --server');
  const tokenFlag = args.token !== undefined ? '--token' : args.tokenFile !== undefined ? '--token-file' : undefined;
  // Read locally, as with --data: a token given would be ignored, so it is refused as readTarget refuses it (review 465).
  if (tokenFlag !== undefined) throw new UsageError(`${tokenFlag}: a token is for a server (--server or CREDENCE_URL); --config reads locally and takes none: leave ${tokenFlag} out`);
  return undefined;
};

/** Who issued or revoked, as access.db records it for a token made on this machine. */
export const localActor = (): string => {
  try {
    return `cli:${userInfo().username}`.slice(0, 200);
  } catch {
    return 'cli:local';
  }
};

/**
 * The service's settings a local command needs: the data folder, `tokens` and `secureEnvironment` (where the signing
 * key is) as `credence serve` would load them (flag over CREDENCE_DATA / CREDENCE_SECURE_ENVIRONMENT over the
 * --config file; the file's other settings are each checked by its own rule, and not used: the checks spanning two
 * settings and the signing policy are serve's, review 439). Reads only: nothing is made yet. A
 * `CREDENCE_*` variable nothing reads is refused as `credence serve` refuses it, the whole environment checked.
 */
export const localConfig = async (args: Pick<Target, 'data' | 'config'>, io: Io): Promise<ServiceConfig> => {
  const { loadServiceConfig } = await import('../../adapters/http/config.ts');
  const env = io.env ?? process.env;
  return loadServiceConfig(
    {
      flags: { data: args.data },
      // Only the variables it uses (review 439): a service-only one (PORT, CREDENCE_SIGNING, ...) never refuses it.
      env: { CREDENCE_DATA: env['CREDENCE_DATA'], CREDENCE_SECURE_ENVIRONMENT: env['CREDENCE_SECURE_ENVIRONMENT'] },
      ...(args.config !== undefined ? { file: args.config } : {}),
    },
    env,
    // The file's settings each checked by its own rule; those spanning two and the signing policy are serve's (review 434 M1).
    { for: 'local' },
  );
};

/** Where else the command could act when the folder has no tokens: a server too (list, revoke), or nowhere (rotate-key). */
export type RecordedWhere = 'or-server' | 'locally-only';

/**
 * Found in review: list, revoke and rotate-key on a folder no token was issued in made access.db, a signing key and
 * the embedded Secure Environment's files in it (any folder, 0755 and all). Only create makes them.
 */
const assertTokensRecorded = (data: string, where: RecordedWhere): void => {
  // With a remedy (review 136): outside the repository ./data is not there, and list and revoke may go to a server.
  const remedy = where === 'or-server' ? 'pass --data DIR, or --server URL with an admin token' : 'pass --data DIR';
  if (!existsSync(data)) throw new UsageError(`--data: no data folder at ${data} (${remedy})`);
  if (!existsSync(join(data, ACCESS_DB_FILE))) {
    throw new UsageError(`--data: ${data} holds no ${ACCESS_DB_FILE}: no token was issued with this data folder (credence token create makes it); nothing was written`);
  }
};

/**
 * A page of the tokens the access.db of the local data folder of `config` records, read-only, its Secure Environment
 * never opened: a listing signs and verifies nothing (review 131: README's whole-folder restore step 2 lists the folder
 * moved aside, which, after a `credence kek rotate` since the backup, opens under no KEK the command is given). Nothing
 * is pruned or written (review 96).
 */
export const listLocalTokens = async (
  config: ServiceConfig,
  query: { readonly limit: number; readonly after?: string; readonly includeExpired: boolean },
  settings: { readonly fromConfigFile: boolean },
): Promise<{ tokens: ReturnType<typeof tokenSummaryJson>[]; next?: string }> => {
  assertTokensRecorded(config.data, 'or-server');
  const { readTokenPage } = await import('../../adapters/driven/access/index.ts');
  const now = new Date();
  const page = readTokenPage(config.data, { ...query, now });
  // A lifetime is judged by the service's tokens.maxTtlSeconds, as the service lists its tokens (review 158): known
  // from its --config file; without one, the default need not be the service's, and no lifetime is called too long.
  const maxTtlSeconds = settings.fromConfigFile ? config.tokens.maxTtlSeconds : Number.POSITIVE_INFINITY;
  return { tokens: page.tokens.map((r) => tokenSummaryJson(tokenSummary(r, now, maxTtlSeconds))), ...(page.next !== undefined ? { next: page.next } : {}) };
};

/**
 * The access control of the local data folder of `config` (localConfig), closed after `use`. Opening it makes the
 * folder, its Secure Environment and access.db when absent, so every check of the command's own arguments runs
 * before this (a rejected command writes nothing); with `mustExist`, a folder without access.db is refused instead,
 * naming where else the command could act. Loaded on demand.
 */
export const withLocalAccess = async <T>(
  config: ServiceConfig,
  io: Io,
  mustExist: false | RecordedWhere,
  use: (access: AccessControl, dir: string) => Promise<T>,
): Promise<T> => {
  const env = io.env ?? process.env;
  if (mustExist !== false) assertTokensRecorded(config.data, mustExist);
  // Review 271: on a folder this account may not write, the first write was SQLite's bare `attempt to write a readonly
  // database` (exit 1, no file named); refused first, naming the folder, as `serve` and `export` refuse it (exit 2).
  refuseUnwritableFolder(
    config.data,
    `a local token command writes the folder's ${ACCESS_DB_FILE} (the tokens issued and revoked, their signing keys) and the Secure Environment its keys are in`,
    `run it as an account that may write ${config.data}, or where it is writable${mustExist === 'locally-only' ? '' : ', or through the service (--server URL with an admin token)'}`,
  );
  const { openAccessControl } = await import('../../adapters/http/auth/open-access-control.ts');
  // Review 81: a full disk or a file size limit met making or writing the folder (its Secure Environment, access.db)
  // was `error: disk I/O error`, no file named. The folder is named; which of its files, SQLite does not say.
  return namingRefusedWrites(`the data folder ${config.data}`, async () => {
    // Review 378 #3: the key this command may make (a first signing key, a rotation's) is named by nothing until
    // access.db names it; `key list` and `key destroy` wait for this lock before they read access.db
    // (access-key-making-lock.ts, above holdAccessKeyMaking, says why this and not a transaction or the folder lock). It is the
    // folder's one `access-key-making.lock`, shared with other token commands (review 399), and it marks the folder
    // written: a command refused meanwhile under the folder lock sweeps nothing (folder-removal.ts). A folder not
    // made yet is made by the opening below, after its KEK checks (a refused KEK leaves no folder), so no lock is held
    // there: left open is only a key command run on a folder in the moment a first `token create` is making it.
    // Held by a key command, it is waited for, said on the command's stderr (review 410).
    const making = statSync(config.data, { throwIfNoEntry: false })?.isDirectory() === true ? holdAccessKeyMaking(config.data, (line) => io.err(line)) : undefined;
    let refused = true;
    try {
      const local = await openAccessControl(config.data, {
        tokens: config.tokens,
        env,
        ...(config.secureEnvironment !== undefined ? { secureEnvironment: config.secureEnvironment } : {}),
      });
      try {
        const done = await use(local.access, config.data);
        refused = false;
        return done;
      } finally {
        local.close();
      }
    } finally {
      // A refused command leaves no key-making lock it made (a rejected command writes nothing).
      if (refused) making?.discard();
      else making?.release();
    }
  });
};
