import { existsSync, lstatSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { systemClock } from '../../adapters/driven/clock/index.ts';
import { refuseUnwritableFolder, writeFileAtomic } from '../../adapters/driven/files/index.ts';
import { DEFAULT_LOG_ORIGIN, openTransparencyInDir } from '../../adapters/driven/transparency/index.ts';
import { isValidKeyName, KEY_NAME_RULE, verifyEvidenceBundle } from '../../domain/transparency/index.ts';
import { withheldIn } from '../../domain/transparency/bundle.ts';
import { checkpointWitnessFile, witnessBegunWarning } from '../../adapters/runtime/checkpoint-witness-file.ts';
import { witnessedTransparencyProjection } from '../../adapters/runtime/witnessed-projection.ts';
import { exportEvidence, TransparencyLogForked, TransparencyLogOfAnotherLog } from '../../projections/transparency/index.ts';
import { entityExists } from '../../domain/entity-exists.ts';
import { TransparencyLogAltered } from '../../domain/ports/index.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { bundleBoundNote } from '../files.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { shellWord } from '../shell-word.ts';
import { handler, parseOptions, runCommands, UsageError, type RegisterCommands } from '../program.ts';
import { CannotWrite, namingRefusedWrites, refusedWriteOf } from '../write-failure.ts';
import { unusableDataFolderAsUsage } from './folder-lock.ts';
import { resolveLogKey, withheldNote } from './verify-checks.ts';
import { exportSettings, openExportLogKey } from './export-log-key.ts';
import { assertWitnessSetting, witnessSource } from './start-setting-refusal.ts';
import { openExistingStore, StoreArg, type StoreChoice } from './open-store.ts';
import { clientOf, readTarget, ServerOptions, StreamArg, withLocalStore, withServer, type ServerTarget, PathArg } from './options.ts';

const Options = z.object({
  stream: StreamArg,
  data: PathArg.optional(),
  store: StoreArg,
  out: z.string({ error: (issue) => (issue.input === undefined ? '--out FILE is required' : undefined) }).min(1, '--out FILE is required').max(4096),
  origin: z.string().refine(isValidKeyName, `origin ${KEY_NAME_RULE}`).optional(),
  force: z.boolean().optional(),
  key: PathArg.optional(),
  config: PathArg.optional(),
  checkpointWitness: z.string().min(1).max(4096).optional(),
  ...ServerOptions,
});
type Options = z.infer<typeof Options>;

/**
 * The bundle, whole or not at all: a crash never leaves half of one, nor destroys the previous one first. Without
 * --force the file is created only if no file is there at that instant (a link, not a rename): one another process
 * wrote while this export ran is kept, as one there at the start is (found in review: checked only at the start).
 * One larger than `credence verify` reads by default is said on stderr with the option that reads it (review 217: a
 * 77 MB export was refused by verify with no word of how to check it), as the bytes written.
 */
const writeBundle = (path: string, bundle: unknown, force: boolean, io: Io): void => {
  const text = `${JSON.stringify(bundle, null, 2)}\n`;
  // Again at the write: a link or a FIFO put there while the export ran is not renamed over either (review 271).
  refuseAllButARegularFile(path);
  try {
    writeFileAtomic(path, text, { mode: 0o644, exclusive: !force, underUmask: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      refuseAllButARegularFile(path);
      throw new UsageError(`--out: ${path} exists; give --force to replace it`);
    }
    // Without --force the bundle is put in place by a hard link, which some file systems (FAT, exFAT, some SMB) lack.
    if (!force && (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP')) {
      throw new UsageError(`--out: cannot write ${path} (${code}): this file system may not allow hard links; write to another one, or give --force (which replaces an existing file)`);
    }
    // A full disk, a file size limit, a read-only file system: a failure (exit 1), not bad usage (review 81).
    if (refusedWriteOf(error) !== undefined) throw new CannotWrite(path, code!);
    throw new UsageError(`--out: cannot write ${path} (${code ?? 'unwritable'})`);
  }
  const note = bundleBoundNote(path, Buffer.byteLength(text));
  if (note !== undefined) io.err(printable(`note: ${note}`));
};

/** What is at `path` when it is there and no regular file, in words (`a FIFO (named pipe)`); none otherwise. */
const notARegularFile = (path: string): string | undefined => {
  let found: ReturnType<typeof lstatSync>;
  try {
    found = lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined; // not even looked at (a folder above it this account may not enter): the write names why
  }
  if (found === undefined || found.isFile()) return undefined;
  if (found.isSymbolicLink()) return 'a symbolic link';
  if (found.isDirectory()) return 'a folder';
  if (found.isFIFO()) return 'a FIFO (named pipe)';
  if (found.isCharacterDevice()) return 'a character device';
  if (found.isBlockDevice()) return 'a block device';
  if (found.isSocket()) return 'a socket';
  return 'not a regular file';
};

/**
 * The bundle is renamed into place, so it would replace whatever entry is at `path`, not write into it: a link (its
 * target untouched), a FIFO, a device node (review 271: run as root, `--out /dev/full --force` made /dev/full a
 * regular file), all said `wrote …`, exit 0. Only a regular file is replaced (with --force); anything else is bad
 * usage naming it, --force or not. Between this look and the rename another process could still put one there.
 */
const refuseAllButARegularFile = (path: string): void => {
  const what = notARegularFile(path);
  if (what === 'a folder') throw new UsageError(`--out: ${path} is a folder; name a file`);
  if (what !== undefined) throw new UsageError(`--out: ${path} is ${what}, not a regular file: the bundle replaces a regular file only (with --force); name a file`);
};

/** Checked before anything is read or signed: the folder the bundle goes into exists, and the path is no folder. */
const assertWritableOut = (path: string, force: boolean): void => {
  const folder = dirname(resolve(path));
  let isFolder: boolean;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch {
    throw new UsageError(`--out: there is no folder ${folder} to write ${path} into`);
  }
  if (!isFolder) throw new UsageError(`--out: ${folder} is not a folder`);
  refuseAllButARegularFile(path);
  // An auditor's earlier bundle is evidence too: replaced only when asked (found in review: overwritten without a word).
  if (!force && existsSync(path)) throw new UsageError(`--out: ${path} exists; give --force to replace it`);
};

const exportLocal = async (args: Options, io: Io): Promise<number> => {
  // The log beside the store it logs: `--store sqlite:DIR` alone is DIR's log, never a new one in ./data.
  const { data, store, secureEnvironment, checkpointWitness } = await exportSettings(args, io);
  // Before anything is opened (a PKCS#11 login among them): a bad setting is bad usage, naming where it came from.
  assertWitnessSetting(checkpointWitness, data, witnessSource(args.checkpointWitness, io.env ?? process.env, args.config));
  const origin = args.origin ?? DEFAULT_LOG_ORIGIN;
  // Review 81: on a folder this account may not write, the export failed exit 1 at its first opening; a data folder
  // unusable here is bad usage (exit 2) naming it, as for the commands that only read it.
  try {
    refuseUnwritableFolder(
      data,
      "a local export writes the folder's transparency log (transparency.db: brought up to the store's head, and a checkpoint signed when none covers the stream)",
      'export from a copy of the folder in storage this account may write (cp -a), or ask the service (--server URL)',
    );
    // Review 81: the folder's databases stopped by a file size limit or a full disk were `error: disk I/O error`, naming
    // nothing. SQLite does not say which file.
    return await namingRefusedWrites(`the data folder ${data}`, () => exportFromFolder(args, io, data, store, { origin, secureEnvironment }, checkpointWitness));
  } catch (error) {
    throw unusableDataFolderAsUsage(error);
  }
};

/** Where the log key is looked for and, in a folder without one, made (openExportLogKey). */
interface LogKeySetting {
  readonly origin: string;
  readonly secureEnvironment: string | undefined;
}

/**
 * The store is opened before the log key: a folder without a log key gets one made there (openExportLogKey), which a
 * --data holding no event store must not leave behind.
 */
const exportFromFolder = async (args: Options, io: Io, data: string, from: StoreChoice, key: LogKeySetting, witness: string | undefined): Promise<number> => {
  const store = openExistingStore(data, from.store, from.setting);
  try {
    // Before the log key (review 218): a refused export (a stream with no event, a typo) made a log key and the log's
    // files in a folder that had none, and a refused command writes nothing.
    // A stream of fact claims only (EventStoreDB) has no events either (review 294): the bundle would be of the claims.
    if (!(await entityExists(store, args.stream.streamId))) return noEvents(args.stream.streamId, io);
    const logKey = await openExportLogKey(data, key.origin, key.secureEnvironment, io);
    try {
      return await exportSigned(args, io, data, store, { origin: key.origin, ...(logKey.signer ? { signer: logKey.signer } : {}) }, witness);
    } catch (error) {
      if (isLogRefusal(error)) return logRefused(error, data, io);
      throw error;
    } finally {
      logKey.close();
    }
  } finally {
    await store.close();
  }
};

/** The log of the folder refuses to go on (its rows say what the store or its key does not): a finding, not a crash. */
const isLogRefusal = (error: unknown): error is TransparencyLogOfAnotherLog | TransparencyLogAltered | TransparencyLogForked =>
  error instanceof TransparencyLogOfAnotherLog || error instanceof TransparencyLogAltered || error instanceof TransparencyLogForked;

/**
 * Review 262's follow-up: the newest leaf row of transparency.db relabelled (its stream and position) was refused by
 * the first catch-up as another log's, which escaped export as an unhandled rejection with a stack. A refusal (exit 1)
 * naming the file and the audit that tells a restore from a file edited: the refusal's own remedy (move the log aside,
 * restore the store) would throw away the evidence of an edit. Nothing is written; the bundle never is.
 */
const logRefused = (error: TransparencyLogOfAnotherLog | TransparencyLogAltered | TransparencyLogForked, data: string, io: Io): number => {
  io.err(printable(`refused (${error.code}): ${error.message}`));
  io.err(
    printable(
      `  nothing was exported: the transparency log ${join(data, 'transparency.db')} does not match the event store of the folder or the checkpoints its key signed; ` +
        `audit the folder first with credence verify --data ${shellWord(data)} (it says whether events.db was restored or a row of the log file was altered)`,
    ),
  );
  return 1;
};

const noEvents = (streamId: string, io: Io): number => {
  io.err(`error: ${streamId} has no events`);
  return 1;
};

const exportSigned = async (
  args: Options,
  io: Io,
  data: string,
  store: EventStore,
  logOptions: Parameters<typeof openTransparencyInDir>[1],
  witness: string | undefined,
): Promise<number> => {
  const { log, signer, origin } = openTransparencyInDir(data, logOptions);
  try {
    const streamId = args.stream.streamId;
    // Held to the service's witness, and keeping it current: an export signs checkpoints too.
    const projection = witnessedTransparencyProjection(
      { store, log, signer, origin, now: () => systemClock.now(), checkpointEveryMs: 0 },
      data,
      witness === undefined ? undefined : checkpointWitnessFile(witness),
    );
    const { bundle, treeSize, storedAfter } = await exportEvidence({ streamId, store, projection, log, signer });
    // As the service says them at its start (review 108): an export that signs keeps the witness too.
    if (projection.witnessBegun !== undefined) io.err(printable(`warning: ${witnessBegunWarning(projection.witnessBegun)}`));
    const unkept = projection.witnessUnkept;
    if (unkept !== undefined) io.err(printable(`warning: the checkpoint signed was not kept in the checkpoint witness: ${unkept.message}`));
    writeBundle(args.out, bundle, args.force === true, io);
    const { withheld, withheldReasons } = withheldIn(bundle.entries);
    io.out(`wrote ${args.out}: all ${bundle.entries.length} events of ${streamId} as of the signed checkpoint of tree size ${treeSize}${withheldNote(withheld, withheldReasons)}`);
    if (storedAfter > 0) io.err(`note: ${storedAfter} events of ${streamId} were appended during the export, after that checkpoint; export again to include them`);
    return 0;
  } finally {
    log.close();
  }
};

/**
 * The server's bundle, checked before it is written: a file named evidence should be evidence. With --key, against
 * that pinned log key; without it, for integrity only, under the key the bundle names (this is a download, not the
 * audit: `credence verify FILE --key` is, and says so on stderr).
 */
const exportRemote = async (args: Options, server: ServerTarget, io: Io): Promise<number> => {
  if (args.origin !== undefined) throw new UsageError('--origin: the server signs with its own log origin; give it only with --data/--store');
  const pinned = args.key === undefined ? undefined : resolveLogKey(args.key, io);
  if (args.key !== undefined && pinned === undefined) return 2;
  const bundle = await clientOf(server).evidence(args.stream.kind, args.stream.id);
  const checked = verifyEvidenceBundle(bundle, pinned === undefined ? { integrityOnly: true } : { trustedKey: pinned });
  if (!checked.ok) {
    io.err(printable(`error: the server's bundle does not verify (${checked.reason}): ${checked.message}`));
    return 1;
  }
  if (checked.streamId !== args.stream.streamId) {
    io.err(printable(`error: the server answered with a bundle of ${checked.streamId}, not of ${args.stream.streamId}`));
    return 1;
  }
  if (checked.keyFromBundle) io.err('note: checked with the key inside the bundle only; give --key, or verify it with the log key you trust (credence verify FILE --key)');
  writeBundle(args.out, bundle, args.force === true, io);
  const note = withheldNote(checked.withheld, checked.withheldReasons);
  io.out(printable(`wrote ${args.out}: all ${checked.events} events of ${checked.streamId} as of the signed checkpoint of tree size ${checked.checkpoint.treeSize}${note}`));
  return 0;
};

/**
 * `credence export <stream> --out file.json [--data DIR | --store URL | --server URL]` (issue 4 item 6, issue 10
 * item 4): the entity's events with their inclusion proofs against a signed checkpoint and the log's signed stream
 * head (the stream had exactly these events there). Locally the log is first brought up to the store's head and,
 * when its latest checkpoint does not cover everything, a checkpoint is signed on demand: the bundle is the whole
 * stream. With --server the server builds the bundle.
 */
export const register: RegisterCommands = (program, io) => {
  const command: Command = withServer(withLocalStore(program.command('export')))
    .description("an evidence bundle of one entity: its events, inclusion proofs, a signed checkpoint and the log's signed stream head")
    .argument('<stream>', 'the entity stream, <kind>-<id>, e.g. credential-meter-1-service')
    .option('--out <file>', 'where to write the bundle (JSON); an existing file is kept unless --force')
    .option('--force', 'replace the --out file when it exists')
    .option('--origin <name>', `the transparency log's origin (default: ${DEFAULT_LOG_ORIGIN})`)
    .option('--key <key>', "with --server: the log verifier key (<name>+<key ID>+<base64>) or a file holding it, which the server's bundle must be signed by")
    .option(
      '--config <file>',
      "the service's configuration file (JSON, as credence serve --config), for a local export, read with the variables credence serve reads: the data folder (--data, else the folder of --store sqlite:DIR, else env CREDENCE_DATA, else the file's), the event store (--store, else env CREDENCE_STORE, a --data folder holding its own events.db then refused, else the own store of --data, else the file's store) and the Secure Environment (env CREDENCE_SECURE_ENVIRONMENT, else the file's)",
    )
    .option(
      '--checkpoint-witness <file>',
      "for a local export, the service's checkpoint witness (as credence serve --checkpoint-witness; env CREDENCE_CHECKPOINT_WITNESS, else the --config file's): the log must extend the checkpoint it keeps before the export signs one, and it keeps the one signed",
    )
    .action(
      handler(io, async (stream: string, opts: Record<string, unknown>) => {
        const args = parseOptions(command, Options, { ...opts, stream });
        assertWritableOut(args.out, args.force === true);
        // --config names the local service's file, so it means local (as for credence token).
        if (args.config !== undefined && args.server !== undefined) throw new UsageError('--config: a server applies its own configuration; give --config without --server');
        if (args.checkpointWitness !== undefined && args.server !== undefined) throw new UsageError('--checkpoint-witness: a server keeps its own witness; give it without --server');
        const target = args.config !== undefined ? undefined : readTarget(args, io);
        if (target === undefined && args.key !== undefined) throw new UsageError('--key: checks the bundle a server hands out; give it with --server');
        return target === undefined ? exportLocal(args, io) : exportRemote(args, target, io);
      }),
    );
};

/** The command on its own: `run([stream, '--out', file, '--data', dir], io)`. */
export const run = (argv: string[], io: Io): Promise<number> => runCommands([register], ['export', ...argv], io);
