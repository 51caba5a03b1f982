import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { validationError } from '../../../domain/errors.ts';
import { base64urlString, fromBase64url, toBase64url, tryFromBase64url } from '../../../domain/crypto/base64url.ts';
import { constantTimeEqual, wipe } from '../../../domain/crypto/bytes.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { assertOwnedByProcess, openToGroupOrOthers, writeFileAtomic } from '../files/index.ts';
import { openSecretFileMessage } from '../files/secret-file-advice.ts';

/**
 * Where the key-encryption key (KEK) that seals every stored key comes from:
 * - inline: 32 bytes, base64url, from configuration (e.g. injected by the deployment's secret manager);
 * - file: a key file; created with mode 0600 on first use, atomically (a crash leaves no file or a complete one),
 *   refused when group or others can read it or another account owns it;
 * - ephemeral: random for the life of the process, only with an in-memory database (tests, demos).
 */
export const KEK_LENGTH = 32;

/** A file path in configuration: Linux PATH_MAX. */
export const MAX_PATH_CHARS = 4096;

export const KekSource = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('inline'), key: base64urlString(KEK_LENGTH) }),
  z.strictObject({ source: z.literal('file'), path: z.string().min(1).max(MAX_PATH_CHARS) }),
  z.strictObject({ source: z.literal('ephemeral') }),
]);
export type KekSource = z.infer<typeof KekSource>;

const keyFileProblem = (path: string, message: string) =>
  validationError([{ path: 'kek.path', rule: 'key_file', message: `${path}: ${message}` }], 'key-encryption key file');

/**
 * The KEK through one file descriptor: what is checked (owner, mode, a regular file) is what is read, not a file
 * swapped in between by name (review 49 item 3). A link is followed at the open and judged by its target.
 */
const readKeyFile = (path: string): Uint8Array => {
  let fd: number;
  try {
    // Non-blocking: a FIFO put in its place would otherwise hang the open; a regular file reads as ever.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EISDIR') throw keyFileProblem(path, 'is a folder, not a key file: name the file itself');
    throw error;
  }
  let text: string;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw keyFileProblem(path, `is ${stat.isDirectory() ? 'a folder' : 'not a regular file'}, not a key file: name the file itself`);
    // The mode and owner checks matter: a KEK any local user can read, or one another account planted (and knows),
    // makes sealing at rest pointless. Each refusal says what to set where a secret is mounted too (read-only there).
    assertOwnedByProcess(path, stat, 'kek.path', 'key-encryption key file', 'secret file');
    if (openToGroupOrOthers(stat.mode)) throw keyFileProblem(path, openSecretFileMessage(stat.mode, path));
    text = readFileSync(fd, 'utf8').trim();
  } finally {
    closeSync(fd);
  }
  // An empty or short file (an interrupted write of an earlier version, or damage) is refused, never replaced by
  // a new KEK: the lost one may have sealed keys already, and a new one would quietly make them unreadable.
  if (text.length === 0) {
    throw keyFileProblem(path, 'is empty (an interrupted creation by an earlier version?): restore it from a backup; only if no key was ever sealed under it, delete it and a new one is created');
  }
  // The shape alone passes a last character whose unused bits are set (review 243 item 2): not canonical, so damaged.
  const key = /^[A-Za-z0-9_-]{43}$/.test(text) ? tryFromBase64url(text) : undefined;
  if (key?.length !== KEK_LENGTH) throw keyFileProblem(path, `must hold ${KEK_LENGTH} bytes as base64url (damaged or truncated? restore it from a backup)`);
  return key;
};

/** An existing KEK file read as `loadKek` reads it: the next KEK of an interrupted rotation (kek-rotation.ts). */
export const readKekFile = (path: string): Uint8Array => readKeyFile(path);

/** An existing KEK file checked as `loadKek` will read it (owner, mode, content), before anything is made beside it. */
export const checkKekFile = (path: string): void => {
  readKeyFile(path).fill(0);
};

/**
 * Whether two existing KEK files hold the same KEK, each read as `loadKek` reads it; false when either cannot be read
 * so (missing, open to others, damaged). Compared in constant time, both wiped: never a byte of either said.
 */
export const kekFilesHoldTheSameKek = (a: string, b: string): boolean => {
  let first: Uint8Array | undefined;
  let second: Uint8Array | undefined;
  try {
    first = readKeyFile(a);
    second = readKeyFile(b);
    return constantTimeEqual(first, second);
  } catch {
    return false;
  } finally {
    wipe(first, second);
  }
};

const createKeyFile = (path: string, random: RandomSource): Uint8Array | undefined => {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = random(KEK_LENGTH);
  try {
    // exclusive fails when the file appeared meanwhile, so two processes never overwrite each other's KEK.
    writeFileAtomic(path, `${toBase64url(key)}\n`, { mode: 0o600, exclusive: true });
  } catch (error) {
    key.fill(0);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw error;
  }
  return key;
};

export const loadKek = (source: KekSource, random: RandomSource): Uint8Array => {
  switch (source.source) {
    case 'inline':
      return fromBase64url(source.key);
    case 'ephemeral':
      return random(KEK_LENGTH).slice();
    case 'file': {
      let exists = true;
      try {
        statSync(source.path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        exists = false;
      }
      return (exists ? undefined : createKeyFile(source.path, random)) ?? readKeyFile(source.path);
    }
    default: {
      const unreachable: never = source;
      throw new TypeError(`unknown KEK source ${String(unreachable)}`);
    }
  }
};
