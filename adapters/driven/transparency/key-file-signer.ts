import { lstatSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { assertOwnedByProcess, openToGroupOrOthers, writeFileAtomic } from '../files/index.ts';
import { assertNoNewKeyUnderSignedLog, assertSignsLog } from './log-key-checks.ts';
import type { CheckpointSigner } from '../../../domain/transparency/checkpoint-signer.ts';
import { fromBase64, toBase64 } from '../../../domain/transparency/bytes.ts';
import {
  ED25519_SIGNATURE_TYPE,
  formatVerifierKey,
  isValidKeyName,
  KEY_NAME_RULE,
  noteVerifierKey,
  type NoteVerifierKey,
} from '../../../domain/transparency/note.ts';

/**
 * The log's Ed25519 key in a file, until the Secure Environment holds it (seed 004: keys in a Secure
 * Environment). The file uses the signed-note private key text form, `PRIVATE+KEY+<name>+<key ID>+base64(0x01 ||
 * seed)`, is created with mode 0600, and a file that others can read is refused, as ssh does.
 * Nothing here ever puts the seed in an error message or a log line.
 *
 * The key and its public key file are written atomically (adapters/driven/files): a crash leaves no file or a
 * complete one. An empty or damaged key file, which earlier versions could leave behind (created, then written,
 * without fsync), is refused with what to do, never replaced by a new key: a zero-length file is never a valid
 * key, but it is not proof that no key existed either (the key's bytes may have been lost after it signed
 * checkpoints, e.g. a power loss before the file system flushed them), and a silent new key would fork the log's
 * identity that auditors pin. Only the operator can know; the message says how to decide.
 */

export const KEY_FILE = 'transparency.key';
export const PUBLIC_KEY_FILE = 'transparency.pub';

const PREFIX = 'PRIVATE+KEY+';

const WHAT_TO_DO =
  'restore it from a backup; only if this data folder\'s transparency log has never signed a checkpoint, delete it and a new key is created';

const parseKeyFile = (path: string, text: string): { keyName: string; seed: Uint8Array } => {
  if (text.length === 0) throw new Error(`key file ${path} is empty (an interrupted creation by an earlier version): ${WHAT_TO_DO}`);
  // Only the first two `+` after the prefix separate fields: the base64 key may itself contain `+`.
  const [keyName = '', idHex = '', ...rest] = text.trim().slice(PREFIX.length).split('+');
  const typed = fromBase64(rest.join('+'));
  if (!text.startsWith(PREFIX) || typed === undefined || typed.length !== 33 || typed[0] !== ED25519_SIGNATURE_TYPE) {
    throw new Error(`key file ${path}: not an Ed25519 signed-note private key (damaged or truncated?): ${WHAT_TO_DO}`);
  }
  const seed = typed.slice(1);
  typed.fill(0);
  const key = noteVerifierKey(keyName, ed25519.getPublicKey(seed));
  if (key.keyId.toString(16).padStart(8, '0') !== idHex) throw new Error(`key file ${path}: key ID does not match the key`);
  return { keyName, seed };
};

const createKeyFile = (path: string, keyName: string): void => {
  mkdirSync(dirname(path), { recursive: true });
  const seed = ed25519.utils.randomSecretKey();
  const key = noteVerifierKey(keyName, ed25519.getPublicKey(seed));
  const typed = new Uint8Array(33);
  typed[0] = ED25519_SIGNATURE_TYPE;
  typed.set(seed, 1);
  const line = `${PREFIX}${keyName}+${key.keyId.toString(16).padStart(8, '0')}+${toBase64(typed)}\n`;
  typed.fill(0);
  seed.fill(0);
  try {
    // exclusive: never overwrite an existing key (that would fork the log's identity); 0600 before any byte.
    writeFileAtomic(path, line, { mode: 0o600, exclusive: true });
  } catch (error) {
    // Another process created it first, complete (the write is atomic): use that one.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
};

/** Signs with the key in `path`, creating it (mode 0600) when `create` is set and the file does not exist. */
export const openKeyFileSigner = (args: { path: string; keyName: string; create?: boolean }): CheckpointSigner => {
  if (!isValidKeyName(args.keyName)) throw new Error(`keyName: ${KEY_NAME_RULE}`);
  let stat = statSync(args.path, { throwIfNoEntry: false });
  if (stat === undefined) {
    if (!args.create) throw new Error(`key file ${args.path} does not exist`);
    createKeyFile(args.path, args.keyName);
    stat = statSync(args.path);
  }
  // Another account's key file signs checkpoints that account can forge too.
  assertOwnedByProcess(args.path, stat, 'transparency.key', 'transparency log key file');
  if (openToGroupOrOthers(stat.mode)) {
    throw new Error(`key file ${args.path} is accessible by group or others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const { keyName, seed } = parseKeyFile(args.path, readFileSync(args.path, 'utf8'));
  if (keyName !== args.keyName) throw new Error(`key file ${args.path} holds the key of ${keyName}, not ${args.keyName}`);
  const publicKey = ed25519.getPublicKey(seed);
  return {
    keyName,
    publicKey,
    sign: async (message) => ed25519.sign(message, seed),
  };
};

/** The verifier key of a signer, in the text form auditors pin (`<name>+<key ID>+<base64 key>`). */
export const signerVerifierKey = (signer: CheckpointSigner): NoteVerifierKey => noteVerifierKey(signer.keyName, signer.publicKey);

/**
 * Opens (or creates) `<dataDir>/transparency.key` and writes `<dataDir>/transparency.pub` beside it, the public
 * verifier key to hand to auditors. `signed`: the log's latest checkpoint, when it has one. Then the key must be
 * the one that signed it: a missing key file is not made afresh, nor is another key used (either would fork the
 * log's identity: a new key's checkpoints over the old history, auditors' pinned key no longer verifying), and
 * nothing is written before that is checked.
 */
export const openKeyFileSignerInDir = (dataDir: string, keyName: string, signed?: string): CheckpointSigner => {
  const path = join(dataDir, KEY_FILE);
  assertNoNewKeyUnderSignedLog(path, signed);
  const signer = openKeyFileSigner({ path, keyName, create: true });
  assertSignsLog(signer, signed, `key file ${path}`);
  writePublicKeyFile(dataDir, signerVerifierKey(signer));
  return signer;
};

/**
 * Writes `<dataDir>/transparency.pub`, the verifier key handed to auditors (so readable by all, 0644), atomically;
 * unless it already holds exactly that key with that mode: a folder opened again (`export --data`, every start)
 * keeps the file and its mtime, and a file removed or edited by hand is put right.
 */
export const writePublicKeyFile = (dataDir: string, key: NoteVerifierKey): void => {
  const path = join(dataDir, PUBLIC_KEY_FILE);
  const text = `${formatVerifierKey(key)}\n`;
  if (holds(path, text, 0o644)) return;
  writeFileAtomic(path, text, { mode: 0o644 });
};

/**
 * Whether `path` is already this account's own regular file (not a link: lstat) with exactly `mode` and `text`; a link,
 * or another account's file, is replaced by the atomic write, as on every open before.
 */
const holds = (path: string, text: string, mode: number): boolean => {
  try {
    const stat = lstatSync(path);
    const own = process.geteuid === undefined || stat.uid === process.geteuid();
    return stat.isFile() && own && (stat.mode & 0o777) === mode && readFileSync(path, 'utf8') === text;
  } catch {
    return false;
  }
};
