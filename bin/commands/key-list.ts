import { MAX_LISTED_KEYS, ownerView, type KeyHandle, type ListedKey } from '../../domain/ports/index.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { withLockedKeyFolders, type KeyFolders } from './key-folders.ts';
import { KEY_OWNERS, keyUseIn, whatNames, type KeyUse } from './keys-in-use.ts';

/**
 * The most keys one report lists: every key costs a read of each folder's records, and a report an operator reads
 * stays bounded whatever a token holds. Past it the report says it stopped.
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
const shellWord = (word: string): string => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

/** `--data A --data B [--token-not-shared] [--config F]`: the folders the report read, for the destroy it names. */
const folderArgs = (folders: readonly string[], tokenNotShared: boolean, config: string | undefined): string =>
  [
    ...folders.map((folder) => `--data ${shellWord(folder)}`),
    ...(tokenNotShared ? ['--token-not-shared'] : []),
    ...(config === undefined ? [] : [`--config ${shellWord(config)}`]),
  ].join(' ');

/**
 * `credence key list`: the keys the owners of KEY_OWNERS hold in the folders' Secure Environment, each with the
 * record that names it or `unnamed` (a kill between a key's generate and its record leaves one). Under the same
 * folder rules and locks as `credence key destroy` (withLockedKeyFolders), and through the same reading of records
 * (keyUseIn): a key listed unnamed is one that destroy would destroy, while the services stay stopped. A record that
 * cannot be read throws (exit 1): its keys are never reported unnamed.
 */
export const listFolderKeys = (folders: KeyFolders, request: KeyListRequest, io: Io, max = MAX_REPORTED_KEYS): Promise<number> =>
  withLockedKeyFolders(folders, 'key list', io, async (locked) => {
    const se = locked.secureEnvironment();
    const keys: ReportedKey[] = [];
    let stopped = false;
    owners: for (const owner of request.owner === undefined ? Object.keys(KEY_OWNERS) : [request.owner]) {
      const view = ownerView(se, owner);
      let after: KeyHandle | undefined;
      do {
        const page = await view.listKeys({ limit: MAX_LISTED_KEYS, ...(after === undefined ? {} : { after }) });
        for (const key of page.keys) {
          if (keys.length === max) {
            stopped = true;
            break owners;
          }
          keys.push({ ...key, owner, use: await keyUseIn(locked.folders, owner, key.handle) });
        }
        after = page.next;
      } while (after !== undefined);
    }
    const unnamed = keys.filter((key) => key.use === undefined).length;
    const shown = request.unnamed ? keys.filter((key) => key.use === undefined) : keys;
    const destroy = `credence key destroy --owner <owner> --handle <handle> ${folderArgs(locked.folders, folders.tokenNotShared, request.config)}`;
    const note = stopped ? `stopped after ${max} keys: more are held (give --owner to list one owner's)` : undefined;
    if (request.json) {
      io.out(
        json({
          folders: locked.folders,
          keys: shown.map(({ use, ...key }) => ({ ...key, namedBy: use === undefined ? null : { rule: use.rule, message: whatNames(use) } })),
          listed: keys.length,
          unnamed,
          stopped,
          ...(note === undefined ? {} : { note }),
          ...(unnamed > 0 ? { destroy } : {}),
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
    io.out(
      printable(
        unnamed === 0
          ? `no key nothing names: ${keys.length} listed, each named by a record of ${locked.folders.join(', ')}`
          : `${unnamed} of ${keys.length} listed named by nothing, each one key destroy would destroy: ${destroy}, for each`,
      ),
    );
    return 0;
  });
