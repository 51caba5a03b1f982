import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_HANDLE_FILE, LOG_KEY_OWNER, readHandleFile } from '../../adapters/driven/transparency/secure-environment-signer.ts';
import type { KeyHandle } from '../../domain/ports/index.ts';

/** A record of the data folder that still names a key: the rule that keeps it, and why (a noun phrase for the key). */
export interface KeyUse {
  readonly rule: string;
  readonly message: string;
}

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
 * The first record of any of `folders` that names `owner`'s key `handle`, read as `credence key destroy` reads them
 * before it destroys (a token serves every folder named): undefined only when none does. A record that cannot be read
 * throws, so a key is never taken for unnamed when its record is unknown.
 */
export const keyUseIn = async (folders: readonly string[], owner: string, handle: KeyHandle): Promise<KeyUse | undefined> => {
  const inUse = KEY_OWNERS[owner];
  if (inUse === undefined) throw new Error(`owner: ${owner} is not an owner whose records are known`);
  for (const folder of folders) {
    const use = await inUse(folder, handle);
    if (use !== undefined) return use;
  }
  return undefined;
};

/** The key `transparency.handle` names signs the folder's log: destroyed, the log signs nothing; a new key forks it. */
export const logKeyInUse = (data: string, handle: KeyHandle): KeyUse | undefined => {
  const path = join(data, KEY_HANDLE_FILE);
  if (!existsSync(path) || readHandleFile(path) !== handle) return undefined;
  return { rule: 'log_key_in_use', message: `the log key ${path} names, which signs the folder's log: ${KEPT}` };
};

/** The CA files' keys, the OCSP signer files' current and retired keys, and every key the key registry still binds. */
const infrastructureKeyInUse = async (data: string, handle: KeyHandle): Promise<KeyUse | undefined> => {
  const { caFilePath, caIds, readCaFile } = await import('../../adapters/driven/pki/ca-file.ts');
  for (const id of caIds(data)) {
    const ca = readCaFile(data, id);
    if (ca?.keyHandle !== handle) continue;
    const signs = ca.state === 'active' ? 'which signs its certificates, CRLs and OCSP signers' : 'awaiting its certificate (credence ca install)';
    return { rule: 'ca_key_in_use', message: `the key of CA ${id} (${caFilePath(data, id)}), ${signs}: ${KEPT}` };
  }
  const { ocspSignerHandles } = await import('../../adapters/driven/pki/ocsp-signer-handles.ts');
  const signer = ocspSignerHandles(data).find((k) => k.handle === handle);
  if (signer !== undefined) {
    const message =
      signer.state === 'current'
        ? `the OCSP signing key of CA ${signer.caId} (${signer.file}), which signs its OCSP responses: ${KEPT}`
        : `a retired OCSP signing key of CA ${signer.caId} (${signer.file}), which the service destroys at the signer's next renewal: ${KEPT}`;
    return { rule: 'ocsp_signing_key_in_use', message };
  }
  const { boundHandle } = await import('../../adapters/driven/key-registry/bound-handle.ts');
  const bound = boundHandle(data, handle);
  if (bound === undefined) return undefined;
  return {
    rule: 'key_registry_key_in_use',
    message: `the key ${bound.file} binds to ${bound.stream} (${bound.purpose}), which the infrastructure uses, or its shredder destroys: ${KEPT}`,
  };
};

/** Every key access.db lists: the current one signs tokens, a retired one verifies those it signed until they end. */
const accessKeyInUse = async (data: string, handle: KeyHandle): Promise<KeyUse | undefined> => {
  const { ACCESS_DB_FILE, openAccessRegistry } = await import('../../adapters/driven/access/index.ts');
  const path = join(data, ACCESS_DB_FILE);
  if (!existsSync(path)) return undefined;
  const registry = openAccessRegistry({ dir: data });
  try {
    const key = registry.signingKeys().find((k) => k.handle === handle);
    if (key === undefined) return undefined;
    const message =
      key.retiredAt === undefined
        ? `the API token signing key ${path} names as current, which signs new tokens: ${KEPT}`
        : `a retired API token signing key ${path} names, which verifies the tokens it signed until they end (the next start or token command after that destroys it; credence token rotate-key --withdraw-previous revokes them and destroys it now): ${KEPT}`;
    return { rule: 'access_signing_key_in_use', message };
  } finally {
    registry.close();
  }
};

/** The owners `credence key destroy` knows, each with the records of the folder that may name one of its keys. */
export const KEY_OWNERS: Readonly<Record<string, (data: string, handle: KeyHandle) => Promise<KeyUse | undefined>>> = {
  [INFRASTRUCTURE_OWNER]: infrastructureKeyInUse,
  [ACCESS_OWNER]: accessKeyInUse,
  [LOG_KEY_OWNER]: async (data, handle) => logKeyInUse(data, handle),
};
