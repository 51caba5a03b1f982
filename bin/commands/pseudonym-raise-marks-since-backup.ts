import { createHash } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { validationError } from '../../domain/errors.ts';
import type { NodeEpoch } from '../../projections/pseudonyms/epoch-marks.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { EXIT, handler, parseOptions, UsageError } from '../program.ts';
import { exportSettings } from './export-log-key.ts';
import { sayRemovedStrays, unusableDataFolderAsUsage } from './folder-lock.ts';
import { PathArg } from './options.ts';

const Args = z.object({ data: PathArg.optional(), beforeRestore: PathArg, config: PathArg.optional(), json: z.boolean().default(false) });

const COMMAND = 'pseudonym raise-marks-since-backup';

/** What a data folder holds once a service has used it, with or without an embedded event store (EventStoreDB). */
const RECORDS = ['keys.db', 'events.db', 'readmodels.db'] as const;

/** What it did; counts only, as the start's warning: nothing here needs a node named (adapters/http/pseudonyms-past-marks.ts). */
interface Raised {
  /** Whether the folder moved aside kept marks at all (a version before review 149 kept none). */
  readonly keptMarks: boolean;
  readonly marks: number;
  readonly raised: number;
}

/** The binding of the pseudonym PRF key in keys.db (adapters/runtime/registered-pseudonym-key.ts): never replaced. */
const PSEUDONYM_KEY = { stream: 'infrastructure', purpose: 'pseudonym-prf' } as const;

/** The rule is in the message too: the CLI shows the message, and the operator looks the rule up (README). */
const refused = (rule: string, message: string): Error =>
  validationError([{ path: 'beforeRestore', rule, message: `--before-restore: ${message}; nothing written [${rule}]` }], 'pseudonym restore');

/** The handles of the pseudonym PRF key the folder's key registry binds (keys.db, or an earlier version's readmodels.db). */
const pseudonymKeys = (bound: ReadonlyMap<string, { readonly stream: string; readonly purpose: string }>): Set<string> =>
  new Set([...bound].filter(([, b]) => b.stream === PSEUDONYM_KEY.stream && b.purpose === PSEUDONYM_KEY.purpose).map(([handle]) => handle));

/**
 * Review 396: refused, before anything is written to either folder, unless `--before-restore` is the later copy of
 * the restored folder's own key registry. Not one registry (`same_key_registry`): both bind a pseudonym PRF key, and
 * not the same one (handles are random, and the key is never replaced): another fleet's folder, whose marks are its
 * own nodes'. Not the later (`later_than_backup`): `--before-restore` keeps no node's epoch above the restored one's
 * while the restored one keeps one above it (or a node it lacks), and no run of this command is recorded in the
 * restored keys.db that carried over this very `--before-restore`: the two folders swapped, which would raise nothing
 * where the marks were lost and open the folder moved aside to write it. Review 404: what is compared is recorded
 * inside each keys.db (SqliteKeyRegistry.readMarksChanges), which a copy, a move (`mv backup data`) or a chmod of the
 * folder moved aside leaves as it was. Review 412: a time alone (the run's, later than the last raise of
 * `--before-restore`) was beaten by a run at an earlier restore, recorded in a folder now moved aside and named as
 * --data, and by a backup taken after a run: the run records the digest of the folder it carried over (carriedDigest),
 * and only that digest, of the `--before-restore` named now, is taken for a run again. A restored folder ahead with no
 * such run recorded is refused too: whether it is the folder moved aside, or the restored one started before this
 * command ran and rotated since, cannot be told from the files, and in the second case nothing is left to raise.
 */
const refuseAnotherRegistryOrSwapped = (
  data: { readonly keysDb: string; readonly carriedFrom: string | undefined; readonly marks: readonly NodeEpoch[]; readonly prf: ReadonlySet<string> },
  aside: { readonly keysDb: string; readonly digest: string; readonly marks: readonly NodeEpoch[] | undefined; readonly prf: ReadonlySet<string> },
): void => {
  if (data.prf.size > 0 && aside.prf.size > 0 && ![...aside.prf].some((handle) => data.prf.has(handle))) {
    throw refused(
      'same_key_registry',
      `${aside.keysDb} binds another pseudonym PRF key than ${data.keysDb}: they are the key registries of two data folders set up apart (another fleet's?), ` +
        'not the folder moved aside before this restore',
    );
  }
  // A folder moved aside that kept no marks (a version before review 149 ran it) has nothing to compare, nor to raise.
  if (aside.marks === undefined) return;
  const epochOf = (marks: readonly NodeEpoch[]) => new Map(marks.map((mark) => [mark.nodeId, mark.epoch]));
  const [inData, inAside] = [epochOf(data.marks), epochOf(aside.marks)];
  const behind = aside.marks.filter((mark) => (inData.get(mark.nodeId) ?? -1) < mark.epoch).length;
  const ahead = data.marks.filter((mark) => (inAside.get(mark.nodeId) ?? -1) < mark.epoch).length;
  if (behind === 0 && ahead > 0 && data.carriedFrom !== aside.digest) {
    throw refused(
      'later_than_backup',
      `${aside.keysDb} keeps no node's pseudonym epoch above the one ${data.keysDb} keeps, which keeps ${ahead} node(s) at an epoch above it (or that it does not name), ` +
        `and no run of this command recorded in ${data.keysDb} carried over ${aside.keysDb} as it is now: ` +
        'it is not the folder moved aside before the restore (the two folders swapped, or the backup moved into place and named as --data?): ' +
        '--data is the restored folder, --before-restore the one moved aside; ' +
        `if ${data.keysDb} is the restored one and its service was started since the restore, it has rotated past them: nothing is left to raise`,
    );
  }
};

/**
 * Review 412: what a run carries over, recorded in the restored keys.db with the run, and compared at a run again: the
 * SHA-256 of the folder moved aside's marks (sorted by node) and of what its own keys.db records of their changes
 * (when a mark last rose, when and from what this command last carried marks into it). The command writes nothing
 * there, nor does a stopped service: a run again names the same, while a restored backup, even one taken after a run
 * (it records that run), or the folder moved aside at an earlier restore, names another.
 */
const carriedDigest = (
  marks: readonly NodeEpoch[],
  changes: { readonly marksRaisedAt?: number; readonly raisedSinceBackupAt?: number; readonly raisedSinceBackupFrom?: string },
): string => {
  const sorted = [...marks].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0)).map((mark) => [mark.nodeId, mark.epoch]);
  const recorded = [changes.marksRaisedAt ?? null, changes.raisedSinceBackupAt ?? null, changes.raisedSinceBackupFrom ?? null];
  return `sha256:${createHash('sha256').update(JSON.stringify(['credence:carried-marks:v1', sorted, recorded])).digest('hex')}`;
};

/**
 * What was done, one sentence per outcome (review 205: with nothing kept it read "no pseudonym epoch of data is behind
 * the 0 data.before-restore kept", and with every mark raised it spoke of "the others").
 */
const said = (data: string, beforeRestore: string, { keptMarks, marks, raised }: Raised): string => {
  if (!keptMarks) {
    return (
      `${join(beforeRestore, 'keys.db')} keeps no pseudonym epochs (a version before this one ran that folder): nothing to carry over; ` +
      'a node rotated since the backup may be given a pseudonym it had already'
    );
  }
  if (marks === 0) return `${beforeRestore} kept no node's pseudonym epoch: nothing raised in ${data}`;
  if (raised === 0) return `no pseudonym epoch in ${data} is behind the ${marks} that ${beforeRestore} kept: nothing raised`;
  const others = marks - raised;
  const of = others === 0 ? 'every one it kept' : `of ${marks} it kept; the other ${others} ${others === 1 ? 'was' : 'were'} as high already`;
  return (
    `raised the pseudonym epoch of ${raised} node(s) in ${data} to the one ${beforeRestore} gave out (${of}): ` +
    'the first start then rotates each of them the log holds live past that epoch, and warns'
  );
};

/**
 * `credence pseudonym raise-marks-since-backup --before-restore DIR [--data DIR] [--config FILE] [--json]` (README
 * "Restoring a whole data folder", step 7): a whole-folder restore brings back the backup's `keys.db`, and with it the
 * epochs each node's pseudonym was given out at then, so the start no longer sees the rotations since (review 149;
 * SER-011): the next rotation of a node rotated since would give out once more a pseudonym observers saw. This raises
 * each node's epoch in the restored folder to the one the folder moved aside kept, never lowering one, in one durable
 * transaction, under the restored folder's lock (the service stopped). The folder moved aside is read only, and a file
 * there this command cannot trust is refused before the restored folder is touched.
 */
export const raiseMarksSinceBackup = async (data: string, beforeRestore: string, io: Io): Promise<Raised> => {
  if (!existsSync(beforeRestore) || !statSync(beforeRestore).isDirectory()) throw new UsageError(`--before-restore: no data folder at ${beforeRestore}`);
  if (existsSync(data) && realpathSync(data) === realpathSync(beforeRestore)) {
    throw new UsageError(`--before-restore: ${beforeRestore} is the restored folder itself: name the folder moved aside before the restore`);
  }
  // A wrong path (the folder's parent, a fresh ./data) would get a key registry of its own, and the marks.
  if (!existsSync(data) || !statSync(data).isDirectory() || !RECORDS.some((name) => existsSync(join(data, name)))) {
    throw new UsageError(`--data: ${data} holds no Credence records (none of ${RECORDS.join(', ')}): name the restored data folder`);
  }
  const aside = join(beforeRestore, 'keys.db');
  if (!existsSync(aside)) throw new UsageError(`--before-restore: ${beforeRestore} holds no keys.db: name the data folder moved aside before the restore`);
  const { SqliteKeyRegistry } = await import('../../adapters/driven/key-registry/index.ts');
  const { boundHandles, refuseKeysDbLostFromAUsedFolder } = await import('../../adapters/driven/key-registry/bound-handles.ts');
  const restored = join(data, 'keys.db');
  // Review 396: the registry's opener makes keys.db, or its schema in an empty one, so that a restored folder that lost
  // its bindings would look whole to `key list` and `key destroy` afterwards: refused first, as they refuse it.
  refuseKeysDbLostFromAUsedFolder(data);
  const dataPrf = pseudonymKeys(boundHandles(data));
  const marks = SqliteKeyRegistry.readEpochMarks(aside);
  const dataMarks = existsSync(restored) ? (SqliteKeyRegistry.readEpochMarks(restored) ?? []) : [];
  // Review 412: what each keys.db records, which a copy, a move or a chmod leaves as it was.
  const carriedFrom = existsSync(restored) ? SqliteKeyRegistry.readMarksChanges(restored).raisedSinceBackupFrom : undefined;
  const digest = carriedDigest(marks ?? [], SqliteKeyRegistry.readMarksChanges(aside));
  refuseAnotherRegistryOrSwapped(
    { keysDb: restored, carriedFrom, marks: dataMarks, prf: dataPrf },
    { keysDb: aside, digest, marks, prf: pseudonymKeys(boundHandles(beforeRestore)) },
  );
  if (marks === undefined) return { keptMarks: false, marks: 0, raised: 0 };
  const runtime = await import('../../adapters/runtime/data-folder.ts');
  let lock: { release(): void };
  try {
    lock = sayRemovedStrays(runtime.lockDataFolder(data, io.env ?? process.env), data, io, COMMAND);
  } catch (error) {
    throw unusableDataFolderAsUsage(error);
  }
  try {
    // The registry's own opener: a restored keys.db damaged, of a newer version, or lacking the table is dealt with as
    // a start deals with it.
    const registry = SqliteKeyRegistry.open({ dir: data });
    try {
      return { keptMarks: true, marks: marks.length, raised: registry.raiseEpochMarks(marks, { sinceBackup: digest }) };
    } finally {
      registry.close();
    }
  } finally {
    lock.release();
  }
};

/** Registered under `credence pseudonym` (lifecycle.ts), though it runs locally and asks no server. */
export const addPseudonymRaiseMarksSinceBackup = (parent: Command, io: Io): void => {
  const command: Command = parent
    .command('raise-marks-since-backup')
    .description(
      'after a whole-folder restore, the service stopped: raise the epoch each node\'s pseudonym was given out at to the one the folder moved aside kept, so no pseudonym is given out again',
    )
    .option('--data <dir>', "the restored data folder (default ./data, or the --config file's)")
    .requiredOption('--before-restore <dir>', 'the data folder moved aside before the restore, as it was last used (read only)')
    .option('--config <file>', "the service's configuration file (JSON, as credence serve --config): its data folder unless --data")
    .option('--json', 'one JSON document: keptMarks, marks, raised');
  command.action(
    handler(io, async (opts: Record<string, unknown>) => {
      const args = parseOptions(command, Args, opts);
      const { data } = await exportSettings({ config: args.config, data: args.data }, io);
      const raised = await raiseMarksSinceBackup(data, args.beforeRestore, io);
      io.out(args.json ? json(raised) : printable(said(data, args.beforeRestore, raised)));
      return EXIT.done;
    }),
  );
};
