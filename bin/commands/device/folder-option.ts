import { statSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { Identifier } from '../../../domain/crypto/credential.ts';
import { assertNoForeignLinkOn, assertNotWritableByOthers } from '../../../adapters/driven/files/private-files.ts';
import { UsageError } from '../../program.ts';

/** The options that name a device's folder, as every `credence device` command parses them. */
export const Ids = { nodeId: Identifier.optional(), dir: z.string().min(1).max(4096).optional() };

/**
 * The device's folder: --dir, or ./device-<node id>. A path through a link another account owns (neither this one nor
 * root) is refused here, before any command makes, locks or reads anything in it (review 302: a link of `nobody`'s
 * had root's init lock and write its target; private-files.ts); so are a path that is not a folder (bad usage) and a
 * folder group or others may write to, named as the device folder and its option, before any server is asked
 * (review 417: init asked the server first, then refused an `invalid data folder: data: …`).
 */
export const deviceDir = (opts: { dir?: string | undefined; nodeId?: string | undefined }): string => {
  const dir = opts.dir !== undefined ? resolve(opts.dir) : opts.nodeId !== undefined ? resolve(`device-${opts.nodeId}`) : undefined;
  if (dir === undefined) throw new UsageError('--dir or --node-id: required (the device folder is ./device-<node id> by default)');
  assertNoForeignLinkOn(dir, 'dir', 'device folder');
  const stat = existingFolder(dir, opts.dir !== undefined ? '--dir' : '--node-id');
  if (stat !== undefined) assertNotWritableByOthers(dir, stat, opts.dir !== undefined ? '--dir' : '--node-id', 'device folder');
  return dir;
};

/**
 * The folder at `dir` as it is (a link judged by its target), or undefined when nothing is there (or it cannot be looked
 * at: the opening names why). Something there that is not a folder (a file), or a path under a file, is bad usage naming
 * `option`, before anything is read, made or sent (review 417: init said `ENOTDIR: … scandir`, provision that the file
 * "holds no device"). A folder group or others may write to is its caller's to refuse (`assertNotWritableByOthers`).
 */
export const existingFolder = (dir: string, option: string): Stats | undefined => {
  let stat: Stats | undefined;
  try {
    stat = statSync(dir, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') throw new UsageError(`${option}: ${dir} cannot be a folder: a part of the path above it is a file`);
    return undefined;
  }
  if (stat !== undefined && !stat.isDirectory()) throw new UsageError(`${option}: ${dir} is not a folder`);
  return stat;
};

/**
 * Refused (bad usage) when --node-id is given and is not the node whose device `dir` holds: --node-id only named the
 * folder when --dir was absent, so a folder copied under another node's name acted as the original, and the server
 * recorded a credential for that node (found in review 302).
 */
export const mustBeTheNode = (opts: { nodeId?: string | undefined }, dir: string, held: { readonly nodeId: string }): void => {
  if (opts.nodeId === undefined || opts.nodeId === held.nodeId) return;
  throw new UsageError(`--node-id: ${opts.nodeId}, but ${dir} holds the device of node ${held.nodeId}: give that node's id, or the folder of node ${opts.nodeId}`);
};

export const withDevice = (command: Command): Command =>
  command.option('--dir <folder>', "the device's folder (its Secure Environment and state)").option('--node-id <id>', 'the device, when its folder is ./device-<node id>');
