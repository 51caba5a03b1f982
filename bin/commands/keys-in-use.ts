import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_HANDLE_FILE, LOG_KEY_OWNER, readHandleFile } from '../../adapters/driven/transparency/secure-environment-signer.ts';
import type { KeyHandle } from '../../domain/ports/index.ts';
import { waitForAccessKeyMaking } from './access-key-making-lock.ts';

/** A record of the data folder that still names a key: the rule that keeps it, and why (a noun phrase for the key). */
export interface KeyUse {
  readonly rule: string;
  readonly message: string;
  /**
   * The key signs what the folder issues next: destroyed, the folder issues nothing. `rotate_first`: the current API
   * token signing key, which only an operator's rotation retires; `renewed_by_service`: a current OCSP signing key,
   * which the service retires at its signer's next renewal and destroys at the one after; `move_log_first`: the log
   * key the folder's transparency.handle names, which only moving that log aside (a new one starts) retires.
   */
  readonly current?: 'rotate_first' | 'renewed_by_service' | 'move_log_first';
}

/**
 * The records of one data folder that may name an owner's keys, each read once for all of `handles`: the use of
 * each handle one of them names. A record that cannot be read throws.
 */
type KeysInUse = (data: string, handles: readonly KeyHandle[]) => Promise<ReadonlyMap<string, KeyUse>>;

/**
 * The owner the CAs, their OCSP signers and the security procedures share (ca-folder.ts, adapters/http/start.ts):
 * one owner, so every record any of them keeps counts for each of its keys.
 */
const INFRASTRUCTURE_OWNER = 'maf:infrastructure';
/** adapters/http/auth/open-access-control.ts ACCESS_OWNER, named here so `credence log-key` loads none of it. */
const ACCESS_OWNER = 'credence:access';

const KEPT = 'nothing destroyed';

/** What a KeyUse says of its record, less what a refused destroy adds: for `credence key list`, which destroys nothing. */
export const whatNames = (use: KeyUse): string => (use.message.endsWith(`: ${KEPT}`) ? use.message.slice(0, -`: ${KEPT}`.length) : use.message);

/**
 * The records of any of `folders` that name `owner`'s keys `handles`, read as `credence key destroy` reads them
 * before it destroys (a token serves every folder named): each handle with the first record that names it, those
 * none names left out. Each folder's records are read once for all the handles, and only while one is left unnamed
 * (so a record is read exactly when asking of each handle alone would read it). A record that cannot be read throws,
 * so a key is never taken for unnamed when its record is unknown.
 */
export const keyUsesIn = async (folders: readonly string[], owner: string, handles: readonly KeyHandle[]): Promise<ReadonlyMap<string, KeyUse>> => {
  const inUse = KEY_OWNERS[owner];
  if (inUse === undefined) throw new Error(`owner: ${owner} is not an owner whose records are known`);
  const uses = new Map<string, KeyUse>();
  for (const folder of folders) {
    const left = handles.filter((handle) => !uses.has(handle));
    if (left.length === 0) break;
    for (const [handle, use] of await inUse(folder, left)) uses.set(handle, use);
  }
  return uses;
};

/** The first record of any of `folders` that names `owner`'s key `handle` (keyUsesIn): undefined only when none does. */
export const keyUseIn = async (folders: readonly string[], owner: string, handle: KeyHandle): Promise<KeyUse | undefined> =>
  (await keyUsesIn(folders, owner, [handle])).get(handle);

const logKeyUse = (path: string): KeyUse => ({
  rule: 'log_key_in_use',
  message: `the log key ${path} names, which signs the folder's log: ${KEPT}`,
  current: 'move_log_first',
});

/** The key `transparency.handle` names signs the folder's log: destroyed, the log signs nothing; a new key forks it. */
export const logKeyInUse = (data: string, handle: KeyHandle): KeyUse | undefined => {
  const path = join(data, KEY_HANDLE_FILE);
  return existsSync(path) && readHandleFile(path) === handle ? logKeyUse(path) : undefined;
};

/**
 * The handles asked of, each taken by the first record that names it, as asking of each alone would: `name` says
 * whether any is left, so that a caller reads no further record once none is.
 */
const namings = (handles: readonly KeyHandle[]) => {
  const left = new Set<string>(handles);
  const uses = new Map<string, KeyUse>();
  return {
    left: left as ReadonlySet<string>,
    uses: uses as ReadonlyMap<string, KeyUse>,
    name: (handle: string, use: KeyUse): boolean => {
      if (left.delete(handle)) uses.set(handle, use);
      return left.size > 0;
    },
  };
};

/** The CA files' keys, the OCSP signer files' current and retired keys, and every key the key registry still binds. */
const infrastructureKeysInUse: KeysInUse = async (data, handles) => {
  const { left, uses, name } = namings(handles);
  const { boundHandles, refuseKeysDbLostFromAUsedFolder } = await import('../../adapters/driven/key-registry/bound-handles.ts');
  // First, whatever names the keys: a keys.db lost from a used folder is a record that cannot be read (review 378).
  refuseKeysDbLostFromAUsedFolder(data);
  const { caFilePath, caIds, readCaFile } = await import('../../adapters/driven/pki/ca-file.ts');
  for (const id of caIds(data)) {
    const ca = readCaFile(data, id);
    if (ca === undefined || !left.has(ca.keyHandle)) continue;
    const signs = ca.state === 'active' ? 'which signs its certificates, CRLs and OCSP signers' : 'awaiting its certificate (credence ca install)';
    if (!name(ca.keyHandle, { rule: 'ca_key_in_use', message: `the key of CA ${id} (${caFilePath(data, id)}), ${signs}: ${KEPT}` })) return uses;
  }
  const { ocspSignerHandles } = await import('../../adapters/driven/pki/ocsp-signer-handles.ts');
  for (const signer of ocspSignerHandles(data)) {
    if (!left.has(signer.handle)) continue;
    const message =
      signer.state === 'current'
        ? `the OCSP signing key of CA ${signer.caId} (${signer.file}), which signs its OCSP responses: ${KEPT}`
        : `a retired OCSP signing key of CA ${signer.caId} (${signer.file}), which the service destroys at the signer's next renewal: ${KEPT}`;
    if (!name(signer.handle, { rule: 'ocsp_signing_key_in_use', message, ...(signer.state === 'current' ? { current: 'renewed_by_service' as const } : {}) })) return uses;
  }
  for (const [handle, bound] of boundHandles(data, left)) {
    const message = `the key ${bound.file} binds to ${bound.stream} (${bound.purpose}), which the infrastructure uses, or its shredder destroys: ${KEPT}`;
    name(handle, { rule: 'key_registry_key_in_use', message });
  }
  return uses;
};

/**
 * Every key access.db lists: the current one signs tokens, a retired one verifies those it signed until they end.
 * Read-only (signingKeyHandles): a file an older version wrote is read as it is, never upgraded by a command that
 * only asks. Read once no local token command is making a key (waitForAccessKeyMaking, access-key-making-lock.ts),
 * never before.
 */
const accessKeysInUse: KeysInUse = async (data, handles) => {
  waitForAccessKeyMaking(data);
  const { ACCESS_DB_FILE } = await import('../../adapters/driven/access/index.ts');
  const { signingKeyHandles } = await import('../../adapters/driven/access/signing-key-handles.ts');
  const { uses, name } = namings(handles);
  const path = join(data, ACCESS_DB_FILE);
  for (const key of signingKeyHandles(data)) {
    const message =
      key.retiredAt === undefined
        ? `the API token signing key ${path} names as current, which signs new tokens: ${KEPT}`
        : `a retired API token signing key ${path} names, which verifies the tokens it signed until they end (the next start or local token create, revoke or rotate-key after that destroys it; credence token rotate-key --withdraw-previous revokes them and destroys it now): ${KEPT}`;
    if (!name(key.handle, { rule: 'access_signing_key_in_use', message, ...(key.retiredAt === undefined ? { current: 'rotate_first' as const } : {}) })) break;
  }
  return uses;
};

/** `transparency.handle`, read once whatever the number of handles asked of. */
const logKeysInUse: KeysInUse = async (data, handles) => {
  const path = join(data, KEY_HANDLE_FILE);
  if (!existsSync(path)) return new Map();
  const named = readHandleFile(path);
  return new Map(handles.includes(named) ? [[named, logKeyUse(path)]] : []);
};

/** The owners `credence key destroy` knows, each with the records of the folder that may name one of its keys. */
export const KEY_OWNERS: Readonly<Record<string, KeysInUse>> = {
  [INFRASTRUCTURE_OWNER]: infrastructureKeysInUse,
  [ACCESS_OWNER]: accessKeysInUse,
  [LOG_KEY_OWNER]: logKeysInUse,
};
