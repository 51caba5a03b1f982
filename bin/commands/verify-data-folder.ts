import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PUBLIC_KEY_FILE, hasTransparencyLog, openTransparencyLogForAudit, rebuildStoredSubtrees } from '../../adapters/driven/transparency/index.ts';
import { lockDataFolder } from '../../adapters/runtime/data-folder.ts';
import { sayRemovedStrays } from './folder-lock.ts';
import { readEventsDbInDir } from '../../adapters/driven/store/index.ts';
import { localStore } from './open-store.ts';
import { EVENTS_DB_FILE, SCHEMA_VERSION } from '../../adapters/driven/store/index.ts';
import { openReadingConnection } from '../../adapters/driven/files/index.ts';
import { asDamagedDatabase } from '../../adapters/driven/files/damaged-database.ts';
import { isDataFolderHeld } from '../../adapters/driven/files/data-folder-held.ts';
import { openCheckpoint, type Checkpoint, type NoteVerifierKey } from '../../domain/transparency/index.ts';
import { auditStoreAgainstLog } from '../../projections/transparency/index.ts';
import { TransparencyLogAltered } from '../../domain/ports/index.ts';
import { isCredenceError, type CredenceError } from '../../domain/errors.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { UsageError } from '../program.ts';
import { progressBar } from '../progress.ts';
import { progressStream } from './options.ts';
import { resolveLogKey } from './verify-checks.ts';
import { refusalJson, reportRefusal } from './verify-refusal.ts';
import { keptCheckpointRefusal, saveCheckpoint, sayKeptCheckpoint } from './verify-save-checkpoint.ts';

/** `credence verify --data`: a data folder's event store audited against its transparency log, and `--repair-nodes`. */

/** Counts the events read so a terminal shows how far a long audit is; every 1,000 events, not every event. */
function* counted<T>(rows: Iterable<T>, update: ((done: number) => void) | undefined): Generator<T> {
  let done = 0;
  for (const row of rows) {
    yield row;
    done += 1;
    if (update !== undefined && done % 1000 === 0) update(done);
  }
  update?.(done);
}

/** What `--repair-nodes` found and wrote, told in the JSON of the audit after it: stdout holds one document. */
interface Repaired {
  readonly subtreeHashes: number;
  readonly found: object;
}

/**
 * `saved`: a checkpoint kept from an earlier audit, which the log must still extend (else `rolled_back`). `repair`: a
 * `node_mismatch` is repaired (`--repair-nodes`) and the folder audited again, its JSON alone printed, with `repaired`.
 */
export const auditDataDir = async (
  dir: string,
  pinned: NoteVerifierKey | undefined,
  io: Io,
  asJson: boolean,
  saved?: string,
  repair: boolean | Repaired = false,
  saveTo?: string,
): Promise<number> => {
  const printJson = (document: object): void => {
    if (asJson) io.out(json(typeof repair === 'object' ? { ...document, repaired: repair } : document));
  };
  refuseFolderWithoutItsStore(dir, io);
  let key = pinned;
  if (key === undefined) {
    key = resolveLogKey(join(dir, PUBLIC_KEY_FILE), io);
    if (key === undefined) return 2;
    io.err(printable(`warning: using the key stored in ${dir}; pin the log key with --key for an independent audit`));
  }
  let checkedFrom: Checkpoint | undefined;
  if (saved !== undefined) {
    // The auditor's own file: malformed, or not under the key pinned, is bad input (2). Not under the folder's own
    // key may be the folder's doing (its key replaced): a failure (1).
    const opened = openCheckpoint(saved, key);
    if (!opened.ok) {
      if (opened.reason === 'malformed_checkpoint' || pinned !== undefined) {
        io.err(printable(`error: --checkpoint: ${opened.message}`));
        return 2;
      }
      io.err(printable(`FAILED (${opened.reason}): --checkpoint: ${opened.message}: the folder's key was replaced, or the file is another log's`));
      return 1;
    }
    checkedFrom = opened.checkpoint;
  }
  try {
    refuseNewerEventsDb(dir);
  } catch (error) {
    if (isCredenceError(error, 'damaged_database')) return damaged(error, io, printJson);
    throw unreadableFolderAsUsage(error) ?? error;
  }
  let log: ReturnType<typeof openTransparencyLogForAudit>;
  try {
    log = openTransparencyLogForAudit(dir);
  } catch (error) {
    const usage = unreadableFolderAsUsage(error);
    if (usage !== undefined) throw usage;
    if (error instanceof TransparencyLogAltered) {
      printJson({ ok: false, kind: 'log_mismatch', message: error.message });
      io.err(printable(`TAMPERED: log_mismatch: ${error.message}`));
      return 1;
    }
    if (isCredenceError(error, 'damaged_database')) return damaged(error, io, printJson);
    throw new UsageError(`--data: ${join(dir, 'transparency.db')}: ${(error as Error).message}`);
  }
  const stream = progressStream(io, asJson);
  const bar = stream === undefined ? undefined : progressBar(stream, 0, 'events checked against the log');
  try {
    // Kept by a service that stopped over a store that no longer held what it logged: told with the audit's outcome.
    const refusal = log.keptRefusal();
    // Held before or after the walk: a service that stopped meanwhile signed at its stop, after what was read.
    const heldBefore = isDataFolderHeld(dir);
    const result = await auditStoreAgainstLog({
      storedEvents: counted(readEventsDbInDir(dir), bar?.update),
      log,
      logPublicKey: key,
      heldByLiveService: () => heldBefore || isDataFolderHeld(dir),
      ...(saved !== undefined ? { saved } : {}),
    });
    bar?.finish();
    const repairing = !result.ok && result.kind === 'node_mismatch' && repair === true;
    // A passed audit that would replace a larger or other kept checkpoint fails (review 134), its JSON saying so.
    const unsaved = result.ok && saveTo !== undefined ? keptCheckpointRefusal(saveTo, result.checkpointNote, key, checkedFrom, '--checkpoint') : undefined;
    const document =
      unsaved !== undefined ? { ok: false, kind: unsaved.rule, message: unsaved.message } : result.ok ? { ...result, checkpointNote: result.checkpointNote ?? null } : result;
    if (!repairing) printJson(refusal === undefined ? document : { ...document, refusal: refusalJson(refusal) });
    reportRefusal(refusal, result.ok, io);
    if (unsaved !== undefined) {
      sayKeptCheckpoint(unsaved, io);
      return 1;
    }
    if (!result.ok) {
      // Nothing verified and nothing in the files proves tampering: no pass (exit 1), and no accusation either.
      const verdict = result.kind === 'not_signed_yet' || result.kind === 'not_logged_yet' ? 'UNVERIFIED' : 'TAMPERED';
      io.err(printable(`${verdict}: ${result.kind}${result.position !== undefined ? ` at position ${result.position}` : ''}: ${result.message}`));
      if (!repairing) return 1;
      log.close();
      return await repairNodes(dir, pinned, io, asJson, saved, result, saveTo);
    }
    if (saveTo !== undefined) saveCheckpoint(saveTo, result.checkpointNote, io);
    if (!asJson) {
      io.out(
        printable(
          `ok: ${result.checkedEvents} stored events match the transparency log; ${result.signedThrough} are covered by the signed checkpoint` +
            (result.checkpoint ? ` of ${result.checkpoint.time}` : '') +
            (result.unlogged > 0 ? `; ${result.unlogged} not logged yet` : ''),
        ),
      );
    }
    return 0;
  } catch (error) {
    if (isCredenceError(error, 'damaged_database')) return damaged(error, io, printJson);
    throw unreadableFolderAsUsage(error) ?? error;
  } finally {
    log.close();
  }
};

/** What `dir` names: nothing (a path through a file too), a folder, or something else; unknown when it cannot be told. */
const folderEntry = (dir: string): 'missing' | 'folder' | 'other' | 'unknown' => {
  try {
    const found = statSync(dir, { throwIfNoEntry: false });
    return found === undefined ? 'missing' : found.isDirectory() ? 'folder' : 'other';
  } catch (error) {
    // Not allowed to look (EACCES): what follows says what it can.
    return (error as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'missing' : 'unknown';
  }
};

/**
 * A folder the local audit cannot read, told before anything is opened. The store is chosen by the rule of every local
 * command (open-store.ts localStore): a folder holding its own events.db while CREDENCE_STORE names another store is
 * refused, naming both (review 280: the audit read the file while the other local reads read the store, one flag
 * naming two stores), as is a value of CREDENCE_STORE serve would refuse. Then: no transparency log; or a log whose
 * event store is not the embedded one beside it (review 278: a folder served on EventStoreDB was said to hold "no
 * event store and transparency log", its log there): the audit reads events.db in the folder only, so such a folder's
 * store is named where CREDENCE_STORE says it (never repeating the string, which may carry a password), and audited
 * through its service.
 */
const refuseFolderWithoutItsStore = (dir: string, io: Io): void => {
  // No folder at all is said as such (review 296: a mistyped path "holds no event store and transparency log").
  const found = folderEntry(dir);
  if (found === 'missing') throw new UsageError(`--data: ${dir} does not exist`);
  if (found === 'other') throw new UsageError(`--data: ${dir} is not a folder`);
  const server = 'through its service: credence verify --server URL --key K';
  const elsewhere = `audit the served store ${server}`;
  // verify takes no --store: the variable says which store is meant.
  const { store: location } = localStore({}, { dir, setting: '--data' }, io.env ?? process.env, (folder, setting) =>
    `audit that file with CREDENCE_STORE unset (or set to sqlite:${folder}), or the store ${setting} names ${server}`,
  );
  const embedded = existsSync(join(dir, EVENTS_DB_FILE));
  const logged = hasTransparencyLog(dir);
  if (!logged) throw new UsageError(`--data: ${dir} holds no ${embedded ? '' : 'event store and '}transparency log`);
  // The folder's own file: no store named, or CREDENCE_STORE naming this very folder (another was refused above).
  if (embedded) return;
  const store =
    location?.kind === 'eventstoredb'
      ? 'its event store is on EventStoreDB (env CREDENCE_STORE)'
      : location?.kind === 'sqlite'
        ? `its event store is in ${location.dir} (env CREDENCE_STORE)`
        : "its event store is elsewhere (EventStoreDB, or sqlite:<folder>, as CREDENCE_STORE or the service's configuration names it)";
  throw new UsageError(
    `--data: ${dir} holds its transparency log but no ${EVENTS_DB_FILE}: ${store}, and the local audit reads the embedded ` +
      `store beside the log only: ${elsewhere}`,
  );
};

/**
 * events.db's schema version, on a connection that writes nothing (reading-connection.ts; not readOnlyDatabase, which
 * rolls a hot journal back into the file the audit judges): a file a newer version wrote is refused, as `history`
 * refuses it, not audited as this version's rows (review 81: it was "ok"). Bad input, as a log of a schema this
 * version does not read is (exit 2).
 */
const refuseNewerEventsDb = (dir: string): void => {
  const path = join(dir, EVENTS_DB_FILE);
  let found: number;
  try {
    const db = openReadingConnection(path);
    try {
      found = Number(db.pragma('user_version', { simple: true }));
    } finally {
      db.close();
    }
  } catch (error) {
    throw asDamagedDatabase(path, error);
  }
  if (found <= SCHEMA_VERSION) return;
  throw new UsageError(
    `--data: ${path}: event store file has schema version ${found}, newer than this build supports (${SCHEMA_VERSION}): ` +
      'a newer version of Credence wrote it; audit it with that version',
  );
};

/**
 * A file SQLite cannot read in this folder (a WAL file without its -shm where this account may not write:
 * adapters/driven/files/wal-in-unwritable-folder.ts) is bad usage of `--data` (exit 2), said with the file, why and
 * what to do; undefined for any other error.
 */
const unreadableFolderAsUsage = (error: unknown): UsageError | undefined => {
  const issues = isCredenceError(error, 'validation') && error.problem.code === 'validation' ? error.problem.issues : [];
  if (issues.length === 0 || !issues.every((i) => i.path === 'data' && i.rule === 'usable_folder')) return undefined;
  return new UsageError(issues.map((i) => `--data: ${i.message}`));
};

/**
 * `--repair-nodes`: the audit found the events, the leaves and the signed checkpoints in agreement and only stored
 * subtree hashes wrong (node_mismatch is reported only then), so they are written again from the leaves, holding the
 * data folder (a running service is refused: it keeps the tree's edge in memory), and the folder audited again.
 */
const repairNodes = async (
  dir: string,
  pinned: NoteVerifierKey | undefined,
  io: Io,
  asJson: boolean,
  saved: string | undefined,
  found: object,
  saveTo: string | undefined,
): Promise<number> => {
  // The command's env, not process.env: the KEK it names outside the folder is checked and swept beside with it.
  const lock = sayRemovedStrays(lockDataFolder(dir, io.env ?? process.env), dir, io, 'verify');
  let written: number;
  try {
    written = rebuildStoredSubtrees(dir);
    io.err(`repaired: ${written} stored subtree hashes of transparency.db written again from its leaves; auditing again`);
  } finally {
    lock.release();
  }
  return auditDataDir(dir, pinned, io, asJson, saved, { subtreeHashes: written, found }, saveTo);
};

/**
 * A log file SQLite cannot read is a finding of the audit (1), not bad usage (2): no proof can be served from it
 * either. Said with the file and what mends it (review 51).
 */
const damaged = (error: CredenceError, io: Io, printJson: (document: object) => void): number => {
  printJson({ ok: false, kind: 'damaged', ...error.problem });
  io.err(printable(`DAMAGED: ${error.message}`));
  return 1;
};
