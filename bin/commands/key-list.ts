import { MAX_LISTED_KEYS, ownerView, type KeyHandle, type ListedKey } from '../../domain/ports/index.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { withLockedKeyFolders, type KeyFolders } from './key-folders.ts';
import { KEY_OWNERS, keyUsesIn, whatNames, type KeyUse } from './keys-in-use.ts';
import { shellWord } from '../shell-word.ts';

/**
 * The most keys one report lists: the keys listed are kept until each owner's are looked up in the folders' records,
 * and a report an operator reads stays bounded whatever a token holds. Past it the report says it stopped.
 */
export const MAX_REPORTED_KEYS = 100_000;

export interface KeyListRequest {
  /** One owner of KEY_OWNERS; all of them when absent. */
  readonly owner?: string | undefined;
  /** Only the keys nothing names. */
  readonly unnamed: boolean;
  readonly json: boolean;
  /** `--config` as given, repeated in the destroy command the report names. */
  readonly config?: string | undefined;
}

/** A listed key and the record that names it, if any: never key material (listKeys has none). */
interface ReportedKey extends ListedKey {
  readonly owner: string;
  readonly use: KeyUse | undefined;
}

/** A path as a shell takes it back: quoted when it holds anything but the usual path characters. */

/** `--data A --data B [--token-not-shared [--without-records]] [--config F]`: the folders the report read. */
const folderArgs = (folders: readonly string[], o: KeyFolders, config: string | undefined): string =>
  [
    ...folders.map((folder) => `--data ${shellWord(folder)}`),
    ...(o.tokenNotShared ? ['--token-not-shared'] : []),
    ...(o.withoutRecords === true ? ['--without-records'] : []),
    ...(config === undefined ? [] : [`--config ${shellWord(config)}`]),
  ].join(' ');

/** One key's destroy, pasted whole into a shell: its owner, its handle, the folders the report read. */
const destroyOf = (key: { readonly owner: string; readonly handle: string }, folders: string): string =>
  `credence key destroy --owner ${shellWord(key.owner)} --handle ${shellWord(key.handle)} ${folders}`;

/**
 * `credence key list`: the keys the owners of KEY_OWNERS hold in the folders' Secure Environment, each with the
 * record that names it or `unnamed` (a kill between a key's generate and its record leaves one). Under the same
 * folder rules and locks as `credence key destroy` (withLockedKeyFolders), and through the same reading of records
 * (keyUsesIn): a key listed unnamed is one that destroy would destroy, while the services stay stopped. The records
 * are read once for each owner's keys, not once per key, and read-only. A record that cannot be read throws (exit 1):
 * its keys are never reported unnamed.
 */
export const listFolderKeys = (folders: KeyFolders, request: KeyListRequest, io: Io, max = MAX_REPORTED_KEYS): Promise<number> =>
  withLockedKeyFolders(folders, 'key list', io, async (locked) => {
    const se = locked.secureEnvironment();
    const keys: ReportedKey[] = [];
    let stopped = false;
    for (const owner of request.owner === undefined ? Object.keys(KEY_OWNERS) : [request.owner]) {
      const view = ownerView(se, owner);
      const listed: ListedKey[] = [];
      let after: KeyHandle | undefined;
      pages: do {
        const page = await view.listKeys({ limit: MAX_LISTED_KEYS, ...(after === undefined ? {} : { after }) });
        for (const key of page.keys) {
          if (keys.length + listed.length === max) {
            stopped = true;
            break pages;
          }
          listed.push(key);
        }
        after = page.next;
      } while (after !== undefined);
      const uses = await keyUsesIn(locked.folders, owner, listed.map((key) => key.handle));
      for (const key of listed) keys.push({ ...key, owner, use: uses.get(key.handle) });
      if (stopped) break;
    }
    const unnamed = keys.filter((key) => key.use === undefined).length;
    const shown = request.unnamed ? keys.filter((key) => key.use === undefined) : keys;
    const where = folderArgs(locked.folders, folders, request.config);
    // printable would show a control character of a folder's name escaped: such a command names another path.
    const pastable = !locked.folders.some((folder) => printable(folder) !== folder);
    const note = stopped ? `stopped after ${max} keys: more are held (give --owner to list one owner's)` : undefined;
    if (request.json) {
      io.out(
        json({
          folders: locked.folders,
          keys: shown.map(({ use, ...key }) => ({
            ...key,
            namedBy: use === undefined ? null : { rule: use.rule, message: whatNames(use) },
            ...(use === undefined ? { destroy: destroyOf(key, where) } : {}),
          })),
          listed: keys.length,
          unnamed,
          stopped,
          ...(note === undefined ? {} : { note }),
        }),
      );
      return 0;
    }
    for (const key of shown) {
      const kind = key.usage === undefined ? key.kind : `${key.kind}/${key.usage}`;
      const named = key.use === undefined ? 'unnamed' : `named by ${key.use.rule}: ${whatNames(key.use)}`;
      io.out(printable(`${key.handle} ${key.owner} ${kind} ${key.createdAt ?? '-'} ${named}`));
    }
    if (note !== undefined) io.out(note);
    if (unnamed === 0) {
      io.out(printable(`no key nothing names: ${keys.length} listed, each named by a record of ${locked.folders.join(', ')}`));
      return 0;
    }
    io.out(`${unnamed} of ${keys.length} listed named by nothing, each one key destroy would destroy:`);
    if (!pastable) io.out('  (a folder name holds control characters, shown escaped: take each command from --json)');
    for (const key of keys) if (key.use === undefined) io.out(printable(`  ${destroyOf(key, where)}`));
    return 0;
  });
