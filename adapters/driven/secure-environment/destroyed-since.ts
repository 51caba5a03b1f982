import { existsSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { validationError, type CredenceError } from '../../../domain/errors.ts';
import { constantTimeEqual, wipe } from '../../../domain/crypto/bytes.ts';
import type { KeyHandle } from '../../../domain/ports/secure-environment.ts';
import { readOnlyDatabaseWritingNothing } from '../files/read-only-database.ts';
import { readKekFile } from './kek.ts';
import { isRetiredKek, KEK_RETIRED } from './kek-retired.ts';
import { kekOpensCheckValue } from './key-vault.ts';
import { LAST_CHANGE } from './key-store.ts';

/** The two files of one embedded key database (embedded-config.ts: `database` and its `wrappingKeys`). */
export interface KeyDatabaseFiles {
  readonly database: string;
  readonly wrappingKeys: string;
}

/** A key the restored key database holds that the later one does not: metadata only, never a sealed byte. */
export interface KeyDestroyedSince {
  readonly handle: KeyHandle;
  readonly owner: string;
  readonly kind: string;
  readonly createdAt: string;
}

/** Of the keys the later copy does not hold: those to destroy again, and those made in the restored folder since. */
export interface KeysSinceBackup {
  /** Destroyed since the backup: made no later than the later copy's last change. */
  readonly destroyed: readonly KeyDestroyedSince[];
  /** Made since the restore (a rotation of step 3, a start): made after the later copy's last change, kept. */
  readonly madeSinceRestore: readonly KeyDestroyedSince[];
}

interface Read {
  readonly pairing: Uint8Array | undefined;
  readonly wrapPairing: Uint8Array | undefined;
  /** LAST_CHANGE (milliseconds), undefined when a version before it wrote the database last. */
  readonly lastChange: number | undefined;
  /** The stored keys whose wrapping key is there (a row without one is destroyed already). */
  readonly live: ReadonlyMap<string, Omit<KeyDestroyedSince, 'handle'>>;
  /** The KEK check value (sealed under the KEK, never opened here) and the KEKs rotated out (kek-retired.ts). */
  readonly kekCheck: Uint8Array | undefined;
  readonly kekRetired: Uint8Array | undefined;
}

/** The rule is in the message too: the CLI shows the message, and the operator looks the rule up (README). */
const problem = (path: string, rule: string, message: string): CredenceError =>
  validationError([{ path, rule, message: `${message} [${rule}]` }], 'Secure Environment restore');

const bytesOf = (value: unknown): Uint8Array | undefined => (value instanceof Uint8Array ? new Uint8Array(value) : undefined);

/**
 * What mends a damaged file of the folder moved aside: not a backup, which holds every key destroyed since and so names
 * none (the live folder's remedy, damaged-database.ts, says restore one).
 */
const asideRemedy = (later: KeyDatabaseFiles): string =>
  `it is a key database of ${dirname(later.database)}, the folder moved aside before the restore, which alone says which keys were destroyed since the backup; ` +
  `nothing was destroyed. Leave that folder as it is, and restore none of its files from a backup (a backup holds the keys destroyed since, and names none): ` +
  `take it as lost, and do as README "Restoring a whole data folder" step 4 says when the folder moved aside is lost`;

/**
 * Both files read as the vault would pair them, and never written, not even to roll back a transaction a crash
 * interrupted (read-only-database.ts rolls it back in a private copy): a folder moved aside is evidence, and the
 * inode change times of both key databases tell which copy is the later (keysDestroyedSince), which any write moves
 * (review 174). `remedy`: what mends a damaged file, for the folder moved aside.
 */
const read = (files: KeyDatabaseFiles, remedy?: string): Read => {
  const wrap = readOnlyDatabaseWritingNothing(
    files.wrappingKeys,
    (db) => ({
      pairing: bytesOf((db.prepare(`SELECT value FROM se_wrap_meta WHERE name = 'pairing'`).get() as { value: unknown } | undefined)?.value),
      handles: new Set((db.prepare('SELECT handle FROM se_wrapping_keys').all() as { handle: string }[]).map((r) => r.handle)),
    }),
    remedy,
  );
  return readOnlyDatabaseWritingNothing(files.database, (db) => {
    const meta = (name: string): unknown => (db.prepare('SELECT value FROM se_meta WHERE name = ?').get(name) as { value: unknown } | undefined)?.value;
    const live = new Map<string, Omit<KeyDestroyedSince, 'handle'>>();
    const rows = db.prepare('SELECT handle, owner, kind, created_at FROM se_keys').iterate() as IterableIterator<{ handle: string; owner: string; kind: string; created_at: string }>;
    for (const row of rows) if (wrap.handles.has(row.handle)) live.set(row.handle, { owner: row.owner, kind: row.kind, createdAt: row.created_at });
    const lastChange = meta(LAST_CHANGE);
    return {
      pairing: bytesOf(meta('pairing')),
      wrapPairing: wrap.pairing,
      lastChange: typeof lastChange === 'number' && Number.isFinite(lastChange) ? lastChange : undefined,
      live,
      kekCheck: bytesOf(meta('kek_check')),
      kekRetired: bytesOf(meta(KEK_RETIRED)),
    };
  }, remedy);
};

const listed = (keys: readonly KeyDestroyedSince[]): string => {
  const shown = keys.slice(0, 20).map((key) => `${key.handle} (owner ${key.owner}, ${key.kind}, made ${key.createdAt})`);
  return keys.length > shown.length ? `${shown.join(', ')} and ${keys.length - shown.length} more` : shown.join(', ');
};

/**
 * Both copies read, refused unless both files of each are present and paired and both are copies of one key database
 * (the rules of keysDestroyedSince). Reads only. With both key databases' status (`restoredStat`, `laterStat`) taken
 * before either is opened.
 */
const pairedCopies = (
  restored: KeyDatabaseFiles,
  later: KeyDatabaseFiles,
): { readonly before: Read; readonly after: Read; readonly restoredStat: Stats; readonly laterStat: Stats } => {
  for (const [files, path] of [
    [restored, 'data'],
    [later, 'beforeRestore'],
  ] as const) {
    for (const file of [files.database, files.wrappingKeys]) {
      if (!existsSync(file)) throw problem(path, 'key_database_present', `${file} is missing: the embedded Secure Environment's key database and its wrapping-key file are both needed`);
    }
  }
  const restoredStat = statSync(restored.database);
  const laterStat = statSync(later.database);
  const before = read(restored);
  const after = read(later, asideRemedy(later));
  for (const [files, found, path] of [
    [restored, before, 'data'],
    [later, after, 'beforeRestore'],
  ] as const) {
    if (found.pairing === undefined || found.wrapPairing === undefined || !constantTimeEqual(found.pairing, found.wrapPairing)) {
      throw problem(path, 'wrapping_keys_match_database', `${files.wrappingKeys} is not the wrapping-key file of ${files.database} (or a version before wrapping keys wrote them)`);
    }
  }
  if (!constantTimeEqual(before.pairing!, after.pairing!)) {
    throw problem(
      'beforeRestore',
      'same_key_database',
      `${later.database} is not a later copy of the key database ${restored.database}: they were set up apart (another data folder, or a backup taken before this version's key format); nothing was destroyed`,
    );
  }
  return { before, after, restoredStat, laterStat };
};

/**
 * The KEK the key database restored from a backup (`restored`) is sealed under, seen from its own later copy (`later`,
 * the folder moved aside), by the KEK check values alone (no KEK is read):
 * - `same`: the one `later` is under;
 * - `retired`: one `later` was re-sealed away from since (`credence kek rotate`, review 131; kek-retired.ts). Started so,
 *   the restored folder seals every key it makes under that KEK again, the one the rotation was run to retire (perhaps
 *   because it leaked);
 * - `other`: another one `later` names nowhere: a rotation made by a version that did not name the KEKs it retired
 *   (review 141), or the restored folder rotated again since the restore. The two cannot be told apart here.
 * Refused as keysDestroyedSince refuses two copies it cannot compare. Reads only.
 */
export const kekOfRestored = (restored: KeyDatabaseFiles, later: KeyDatabaseFiles): 'same' | 'retired' | 'other' => {
  const { before, after } = pairedCopies(restored, later);
  if (before.kekCheck === undefined || after.kekCheck === undefined || constantTimeEqual(before.kekCheck, after.kekCheck)) return 'same';
  return isRetiredKek(after.kekRetired, before.kekCheck) ? 'retired' : 'other';
};

/**
 * Which of the two copies the KEK in the file `kekFile` opens, by their KEK check values (review 243 item 3: the file
 * CREDENCE_KEK_FILE names after a restore may be the KEK of the folder moved aside, or a copy of the backup's made for
 * the restored folder): `later`, `restored`, or undefined for neither (or a file that cannot be read as a KEK). Refused
 * as kekOfRestored refuses two copies it cannot compare. Reads only; the KEK is wiped, never said.
 */
export const copyKekFileOpens = (kekFile: string, restored: KeyDatabaseFiles, later: KeyDatabaseFiles): 'later' | 'restored' | undefined => {
  const { before, after } = pairedCopies(restored, later);
  let kek: Uint8Array;
  try {
    kek = readKekFile(kekFile);
  } catch {
    return undefined;
  }
  try {
    if (after.kekCheck !== undefined && kekOpensCheckValue(kek, after.kekCheck)) return 'later';
    if (before.kekCheck !== undefined && kekOpensCheckValue(kek, before.kekCheck)) return 'restored';
    return undefined;
  } finally {
    wipe(kek);
  }
};

/**
 * The keys of a key database restored from a backup (`restored`) that its own later copy (`later`: the data folder
 * moved aside before the restore) has destroyed since: a destroy erases a key's wrapping key for good, but the backup
 * still holds one, so every key destroyed after the backup was taken opens again once it is restored. Handles are
 * random and never reused, so a key the backup holds that the later copy does not was destroyed since. But the
 * restored folder may have made keys since the restore too (step 3's rotation, a start), which the later copy does
 * not hold either: those are told apart by their creation time against the later copy's last change (LAST_CHANGE,
 * key-store.ts), and kept (`madeSinceRestore`).
 *
 * Why that tells them apart: a key destroyed since the backup was made before the backup, and the later copy's last
 * change is a high-water mark over every key it ever stored, that one included, so the key's `created_at` is at or
 * before it, whatever the clock did (for a key made before a version kept that mark, as the clock ran then). A key
 * made since the restore was made after the later copy stopped changing,
 * so after its last change, by a clock that runs forward. Both times come from the Secure Environment's clock, and
 * `created_at` is in the key's seal (key-vault.ts): a changed one leaves the key unopenable, not misdated.
 *
 * Which side to err on: a key wrongly kept is a shredding failure; a key wrongly destroyed breaks the service (the
 * current token signing key access.db names refuses the next start). Only the clock can mix them up, so where it
 * cannot be trusted nothing is destroyed and every key concerned is named with its owner (`made_since_restore_known`):
 * a `created_at` equal to the last change (same millisecond: either side), one that does not parse, or any key to
 * destroy while `now` reads no later than the last change (this clock, which dated the keys made since the restore,
 * is behind the later copy's: a key it made could be dated before that change). A clock set back only while a key
 * was made, and right again now, is not seen: restore on a host whose clock is right.
 *
 * Where the later copy kept no LAST_CHANGE (no key made or destroyed there since the upgrade to a version that keeps
 * it), its key database file's modification time stands for it: the file's last write is at or after its last key
 * change, and a move aside keeps it (a copy without -p would not).
 *
 * Refused (`validation`, naming the rule) unless the answer can be trusted: both files of each copy present and paired
 * (`key_database_present`, `wrapping_keys_match_database`), both copies of one key database (`same_key_database`:
 * another folder's would name every key), and, with keys to destroy, `later` the later one (`later_than_backup`: its
 * key database last changed, by the inode change time, no later than the restored one was written; swapped, the keys
 * made since the backup would look destroyed since), and the clock (above). Reads only.
 */
export const keysDestroyedSince = (restored: KeyDatabaseFiles, later: KeyDatabaseFiles, now: Date): KeysSinceBackup => {
  const { before, after, restoredStat, laterStat } = pairedCopies(restored, later);
  const gone = [...before.live]
    .filter(([handle]) => !after.live.has(handle))
    .map(([handle, key]) => ({ handle: handle as KeyHandle, ...key }))
    .sort((a, b) => (a.handle < b.handle ? -1 : 1));
  if (gone.length === 0) return { destroyed: [], madeSinceRestore: [] };
  // No LAST_CHANGE: no key made or destroyed there since the upgrade to a version that keeps it. The file's last write
  // is at or after its last key change, and a move aside keeps that time (README step 4: moved, never copied anew).
  const written = laterStat.mtimeMs;
  const lastChange = after.lastChange ?? (Number.isFinite(written) && written > 0 ? Math.floor(written) : undefined);
  if (lastChange === undefined) {
    throw problem(
      'beforeRestore',
      'later_last_change_known',
      `${later.database} kept no time of its last key change and has no modification time: the keys made since the restore cannot be told from those destroyed since the backup; nothing was destroyed`,
    );
  }
  const made = (key: KeyDestroyedSince): number => Date.parse(key.createdAt);
  const madeSinceRestore = gone.filter((key) => made(key) > lastChange);
  const destroyed = gone.filter((key) => made(key) < lastChange);
  const unclear = [
    ...gone.filter((key) => !(made(key) > lastChange || made(key) < lastChange)),
    ...(now.getTime() <= lastChange ? destroyed : []),
  ];
  if (unclear.length > 0) {
    throw problem(
      'beforeRestore',
      'made_since_restore_known',
      `${unclear.length} key(s) of ${restored.database} that ${later.database} no longer holds cannot be told destroyed since the backup from made since the restore: ` +
        `${listed(unclear)}, against its last key change at ${new Date(lastChange).toISOString()} and the clock now at ${now.toISOString()} ` +
        `(a key made in the same millisecond, or a clock behind: one set back, or the moved-aside folder's ahead); nothing was destroyed. ` +
        `Set the clock right and run this again, or end again each entity or run again each rotation that destroyed one of them since the backup`,
    );
  }
  // Which copy is the later: the times of the keys cannot say (swapped after step 3, the restored folder's keys made
  // since the restore are dated after everything the folder moved aside did, so its keys made since the backup look
  // destroyed since). The restore can: it wrote the restored key database as a new file after the folder moved aside
  // last changed, and a file's inode change time is set by the kernel when it is written, never copied (cp -p, tar).
  // Both times taken before either file was opened, and neither written since (read).
  if (destroyed.length > 0 && laterStat.ctimeMs > restoredStat.ctimeMs) {
    throw problem(
      'beforeRestore',
      'later_than_backup',
      `${later.database} changed after the restored ${restored.database} was written: it is not the folder moved aside before the restore ` +
        `(the two folders swapped?, or its files written or their mode or owner changed since the restore); nothing was destroyed`,
    );
  }
  return { destroyed, madeSinceRestore };
};
