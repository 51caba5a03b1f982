import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_FILE, KEY_HANDLE_FILE, PUBLIC_KEY_FILE } from '../../adapters/driven/transparency/index.ts';
import { CheckpointWitnessPath } from '../../adapters/runtime/checkpoint-witness-file.ts';
import type { CheckpointSigner } from '../../domain/transparency/index.ts';
import type { StoreLocation } from '../../adapters/driven/store/index.ts';
import type { Io } from '../io.ts';
import { UsageError } from '../program.ts';
import { printable } from '../printable.ts';
import { shellWord } from '../shell-word.ts';
import { configuredStore, localDataFolder, STORE_VARIABLE_SETTING, storeOfVariable, type StoreChoice } from './open-store.ts';
import { refuseUnknownVariables } from './unknown-variables.ts';

/** The log key a local export signs a checkpoint with: the folder's key file (`signer` absent), or its Secure Environment's. */
export interface ExportLogKey {
  readonly signer?: CheckpointSigner;
  close(): void;
}

/** Where a local export works: the data folder, its event store, and the Secure Environment its service runs with. */
export interface ExportSettings {
  readonly data: string;
  readonly store: StoreChoice;
  /** `embedded`, a pkcs11: URI, or undefined (embedded). */
  readonly secureEnvironment: string | undefined;
  /** The service's checkpoint witness (--checkpoint-witness over CREDENCE_CHECKPOINT_WITNESS over the --config file's), when it keeps one. */
  readonly checkpointWitness: string | undefined;
}

/** A witness setting given to the export itself (its flag, or the variable without --config), parsed as the service parses it. */
const witnessOf = (value: string | undefined, source: string): string | undefined => {
  if (value === undefined) return undefined;
  const parsed = CheckpointWitnessPath.safeParse(value);
  if (!parsed.success) throw new UsageError(`${source}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
};

/**
 * The data folder (--data, else the folder of --store sqlite:DIR, else CREDENCE_DATA, else the --config file's, else
 * ./data), the event store (--store, else CREDENCE_STORE, else --data's own, else the --config file's `store`:
 * configuredStore) and the Secure Environment (CREDENCE_SECURE_ENVIRONMENT over the --config file's
 * `secureEnvironment`), the file and those variables read as `credence serve --config` reads them
 * (loadServiceConfig): an export beside a service run with `--config` finds its store and HSM there, as `credence
 * ca` and `credence token` do. Found in review: the variables were left out, so a service on CREDENCE_STORE was
 * exported from the file's store or the folder's events.db. Without --config the variables read are CREDENCE_DATA and
 * CREDENCE_STORE, as every local read reads them (localDataFolder, localStore), CREDENCE_SECURE_ENVIRONMENT and
 * CREDENCE_CHECKPOINT_WITNESS. A store CREDENCE_STORE names over a folder holding its own events.db is refused when
 * the export opens it (openExistingStore), as the other local reads refuse it: the commands that take these settings
 * for the folder and its keys alone (kek, key) read no store. A refused setting is bad usage naming it; a password in
 * the store is never repeated (one in the file is warned of as `credence serve` warns of it). A `CREDENCE_*` variable
 * nothing reads is refused, with --config or without, the whole environment checked (review 123).
 */
export const exportSettings = async (
  args: { readonly data?: string | undefined; readonly store?: StoreLocation | undefined; readonly config?: string | undefined; readonly checkpointWitness?: string | undefined },
  io: Io,
): Promise<ExportSettings> => {
  const env = io.env ?? process.env;
  // Its own flag wins, as the service's does (review 106: a service run with --checkpoint-witness left exports unheld).
  const flagged = witnessOf(args.checkpointWitness, 'flag --checkpoint-witness');
  if (args.config === undefined) {
    await refuseUnknownVariables(io);
    // The folder as every local command finds it: --data, --store's, CREDENCE_DATA, ./data (review 236).
    const folder = localDataFolder(args, env);
    const variable = storeOfVariable(env);
    return {
      data: folder.dir,
      store:
        args.store === undefined && variable !== undefined
          ? { store: variable, setting: STORE_VARIABLE_SETTING }
          : configuredStore(args, { store: undefined, storeSetting: STORE_VARIABLE_SETTING, dataSetting: folder.setting }),
      secureEnvironment: env['CREDENCE_SECURE_ENVIRONMENT'] || undefined,
      checkpointWitness: flagged ?? witnessOf(env['CREDENCE_CHECKPOINT_WITNESS'] || undefined, 'env CREDENCE_CHECKPOINT_WITNESS'),
    };
  }
  const { loadServiceConfig } = await import('../../adapters/http/config.ts');
  // Only the variables it uses (review 439): a service-only one (PORT, CREDENCE_SIGNING, ...) never refuses it.
  const variables = {
    CREDENCE_DATA: env['CREDENCE_DATA'],
    CREDENCE_STORE: env['CREDENCE_STORE'],
    CREDENCE_SECURE_ENVIRONMENT: env['CREDENCE_SECURE_ENVIRONMENT'],
    CREDENCE_CHECKPOINT_WITNESS: env['CREDENCE_CHECKPOINT_WITNESS'],
  };
  let config;
  try {
    config = loadServiceConfig(
      {
        flags: { data: args.data },
        env: variables,
        file: args.config,
        warn: (message) => io.err(printable(`warning: ${message}`)),
      },
      env,
      // The file's settings each checked by its own rule; those spanning two and the signing policy are serve's (review 434 M1).
      { for: 'local' },
    );
  } catch (error) {
    const issues = (error as { problem?: { issues?: { path: string; message: string }[] } }).problem?.issues;
    if (issues !== undefined) throw new UsageError(issues.map((i) => `${i.path}: ${i.message}`));
    throw error;
  }
  // Named as loadServiceConfig ranks them: an empty variable is unset there too.
  const service = {
    store: config.store,
    storeSetting: env['CREDENCE_STORE'] ? STORE_VARIABLE_SETTING : `file ${args.config}: store`,
    dataSetting: args.data === undefined && env['CREDENCE_DATA'] ? 'env CREDENCE_DATA' : '--data',
  };
  const data = args.data ?? (args.store?.kind === 'sqlite' ? args.store.dir : config.data);
  return { data, store: configuredStore(args, service), secureEnvironment: config.secureEnvironment, checkpointWitness: flagged ?? config.checkpointWitness };
};

/**
 * A folder whose log key is in a Secure Environment (`transparency.handle`, made by `credence serve`) is signed for
 * there, through the Secure Environment of `setting` (exportSettings): an HSM's, the PIN as the service takes it, or
 * the folder's embedded one, its KEK where CREDENCE_KEK_FILE names it, as the service opens it. Never with a key file
 * made here, which would be a second log identity. A handle in a folder without an embedded Secure Environment is an
 * HSM's, or that of the folder its log was moved from (README restore step 4): refused without the HSM's setting,
 * naming both, nothing made. A folder that has `transparency.key` signs with it (`signer`
 * absent). A folder with neither (a new one, or one whose log was moved aside: README restore step 4) gets its key
 * where `credence serve` would make it, by the same function (openSecureEnvironmentLogKey), after serve's check that
 * its keys are not in another Secure Environment: review 134 found the export making `transparency.key` there, which
 * the next start then kept as the log's key, in the folder even with the KEK outside it.
 */
export const openExportLogKey = async (data: string, origin: string, setting: string | undefined, io: Io): Promise<ExportLogKey> => {
  const handle = existsSync(join(data, KEY_HANDLE_FILE));
  if (!handle && existsSync(join(data, KEY_FILE))) return { close: () => undefined };
  const env = io.env ?? process.env;
  const runtime = await import('../../adapters/runtime/data-folder.ts');
  const { secureEnvironmentConfigForDataDir } = await import('../../adapters/driven/secure-environment/index.ts');
  // Review 313: a log moved aside with its handle (README restore step 4, `<data>.before-restore`) is one too, its key
  // left in the embedded Secure Environment of the folder it came from, which no export of this folder can open.
  if (handle && runtime.isEmbedded(setting) && !existsSync(secureEnvironmentConfigForDataDir(data).database)) {
    const audit = `credence verify --data ${shellWord(data)} --key ${shellWord(join(data, PUBLIC_KEY_FILE))}`;
    throw new UsageError(
      `${data}: the transparency log key ${KEY_HANDLE_FILE} names is in no Secure Environment of this folder. In an HSM: set ` +
        "CREDENCE_SECURE_ENVIRONMENT to the pkcs11: URI the service runs with, or give --config with the service's configuration file. " +
        'In the embedded Secure Environment of the data folder it was moved from (README, "Restoring `events.db`", step 4): ' +
        'no export here can sign with it; bundles of this log are exported from that folder before the restore replaced its events.db. ' +
        `Either way none is signed once credence log-key destroy destroyed the key: ${audit} audits the log without it`,
    );
  }
  // Before the embedded Secure Environment is opened, which makes it when absent: as serve refuses, nothing written.
  if (!handle) {
    const { refuseKeysInAnotherSecureEnvironment } = await import('../../adapters/http/keys-in-another-secure-environment.ts');
    refuseKeysInAnotherSecureEnvironment(data, setting);
  }
  const se = runtime.openServiceSecureEnvironment(data, setting, { now: () => new Date(), env });
  try {
    const { openSecureEnvironmentLogKey } = await import('../../adapters/runtime/transparency-key.ts');
    const key = await openSecureEnvironmentLogKey(data, se, origin);
    // Both a key file and a handle are refused by openSecureEnvironmentLogKey; without a key file, the key is the Secure Environment's.
    if (key.place !== 'hsm') throw new Error(`${data}: no transparency log key in the Secure Environment`);
    return { signer: key.signer, close: () => se.close() };
  } catch (error) {
    se.close();
    throw error;
  }
};
