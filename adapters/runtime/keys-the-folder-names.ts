import { isCredenceError, validationError } from '../../domain/errors.ts';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { signingKeyHandles } from '../driven/access/signing-key-handles.ts';
import { boundHandles } from '../driven/key-registry/bound-handles.ts';
import { caFilePath, caIds, readCaFile } from '../driven/pki/ca-file.ts';
import { ocspSignerHandles } from '../driven/pki/ocsp-signer-handles.ts';
import { KEY_HANDLE_FILE, LOG_KEY_OWNER, readHandleFile } from '../driven/transparency/secure-environment-signer.ts';
import type { CaId } from '../../domain/x509/issuing-ca.ts';

/** A key the data folder names, by the record that names it (a noun phrase, its file relative to the folder). */
export interface NamedKey {
  readonly record: string;
  readonly handle: string;
  /** The Secure Environment owner the key is made for: what asks whether a token holds it (folder-keys-in-token.ts). */
  readonly owner: string;
}

/**
 * The owners of the keys the records name, as the service makes them: adapters/http/auth/open-access-control.ts
 * ACCESS_OWNER and the infrastructure's (CAs, OCSP signers, keys.db's keys; bin/commands/keys-in-use.ts), named here
 * as keys-in-use.ts names them, so that nothing of the HTTP adapter is loaded.
 */
const ACCESS_OWNER = 'credence:access';
const INFRASTRUCTURE_OWNER = 'maf:infrastructure';

/** The keys the folder's records name, and the refusals of the records that could not be read. */
export interface KeysTheFolderNames {
  readonly named: readonly NamedKey[];
  /**
   * Each record that names keys but could not be read (a file a newer version wrote, a malformed or damaged one), as
   * its reader refused it: which keys it names is unknown. Kept rather than thrown, so that a key another record names
   * is still found and said; the caller throws one when what it decides depends on it.
   */
  readonly unreadable: readonly unknown[];
}

/** One record's keys, or its reader's refusal. */
const readRecord = (read: () => readonly NamedKey[], named: NamedKey[], unreadable: unknown[]): void => {
  try {
    named.push(...read());
  } catch (error) {
    unreadable.push(error);
  }
};

const accessKeys = (dataDir: string): NamedKey[] =>
  signingKeyHandles(dataDir).map((k) => ({
    record: k.retiredAt === undefined ? 'the API token signing key access.db records as current' : 'a retired API token signing key access.db names',
    handle: k.handle,
    owner: ACCESS_OWNER,
  }));

const logKey = (dataDir: string): NamedKey[] => {
  const path = join(dataDir, KEY_HANDLE_FILE);
  return existsSync(path) ? [{ record: `the log key ${KEY_HANDLE_FILE} names`, handle: readHandleFile(path), owner: LOG_KEY_OWNER }] : [];
};

/** One CA file's key (one still awaiting its certificate has its key too). */
const caKey = (dataDir: string, id: CaId): NamedKey[] => {
  const file = readCaFile(dataDir, id);
  return file === undefined ? [] : [{ record: `the key of CA ${id} (${relative(dataDir, caFilePath(dataDir, file.id))})`, handle: file.keyHandle, owner: INFRASTRUCTURE_OWNER }];
};

/** The OCSP signer files' current and retired keys (a retired one stays until the signer's next renewal destroys it). */
const ocspKeys = (dataDir: string): NamedKey[] =>
  ocspSignerHandles(dataDir).map((s) => ({
    record: `${s.state === 'current' ? 'the' : 'a retired'} OCSP signing key of CA ${s.caId} (${relative(dataDir, s.file)})`,
    handle: s.handle,
    owner: INFRASTRUCTURE_OWNER,
  }));

/**
 * Every key the data folder's records name, read-only, nothing written: access.db's signing keys (current and
 * retired), the log key of `transparency.handle`, each CA file's key (`pki/<id>.ca.json`), the OCSP signer files'
 * current and retired keys (`pki/<id>.ocsp.json`), and the keys keys.db binds (among `among` only, when given). keys.db
 * is read without `among` too: a token folder whose transparency.handle was lost, its keys.db the only record left of
 * its keys (nodes' PSKs, the pseudonym PRF key), was opened with the embedded setting and had an empty embedded Secure
 * Environment made beside bindings it holds none of. What both refusals to switch a folder's Secure Environment (embedded or a token) go by, one list
 * for both (review 211: the CA and OCSP files were left out, and a folder whose only key was its CA's was switched by
 * `ca init`, in either direction).
 */
export const keysTheFolderNames = (dataDir: string, among?: ReadonlySet<string>): KeysTheFolderNames => {
  const named: NamedKey[] = [];
  const unreadable: unknown[] = [];
  readRecord(() => accessKeys(dataDir), named, unreadable);
  readRecord(() => logKey(dataDir), named, unreadable);
  // One CA file at a time: one that cannot be read leaves the others' keys known.
  for (const id of caIds(dataDir)) readRecord(() => caKey(dataDir, id), named, unreadable);
  readRecord(() => ocspKeys(dataDir), named, unreadable);
  readRecord(() => [...boundHandles(dataDir, among)].map(([handle, b]) => ({ record: `a key keys.db binds (${b.purpose})`, handle, owner: INFRASTRUCTURE_OWNER })), named, unreadable);
  return { named: among === undefined ? named : named.filter((k) => among.has(k.handle)), unreadable };
};

const RULE = 'secure_environment_of_the_folder';

/**
 * Whether `error` is the refusal below: the folder's keys are in the other Secure Environment. A refusal (exit 1) for
 * every command alike, not bad usage: the setting is valid, the folder is what refuses it (the `token` commands said
 * exit 2, `serve`, `ca` and `key` exit 1).
 */
export const isSecureEnvironmentOfTheFolderRefusal = (error: unknown): boolean =>
  isCredenceError(error, 'validation') && error.problem.code === 'validation' && error.problem.issues.some((issue) => issue.rule === RULE);

/** How many keys a refusal names by handle; the rest are counted. */
const NAMED_KEYS = 4;

/** `keys` as a refusal says them: the first few with their record and handle, the rest counted. */
export const sayNamedKeys = (keys: readonly NamedKey[]): string => {
  const named = keys.slice(0, NAMED_KEYS).map((k) => `${k.record}, ${k.handle}`);
  return `${named.join('; ')}${keys.length > NAMED_KEYS ? `; and ${keys.length - NAMED_KEYS} more` : ''}`;
};

/**
 * Refuses, by rule `secure_environment_of_the_folder`, a command given the Secure Environment the folder's keys are
 * not in, when `found` names any (`message` says it of them). When none is named but a record could not be read (it
 * may name one), that record's own refusal is thrown, naming it; else nothing is refused.
 */
export const refuseKeysOfAnotherSecureEnvironment = (found: KeysTheFolderNames, message: (named: readonly NamedKey[]) => string): void => {
  if (found.named.length === 0) {
    if (found.unreadable.length > 0) throw found.unreadable[0];
    return;
  }
  throw validationError([{ path: 'secureEnvironment', rule: RULE, message: message(found.named) }], 'Secure Environment configuration');
};
