import { resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { Identifier } from '../../../domain/crypto/credential.ts';
import { assertNoForeignLinkOn } from '../../../adapters/driven/files/private-files.ts';
import { UsageError } from '../../program.ts';

/** The options that name a device's folder, as every `credence device` command parses them. */
export const Ids = { nodeId: Identifier.optional(), dir: z.string().min(1).max(4096).optional() };

/**
 * The device's folder: --dir, or ./device-<node id>. A path through a link another account owns (neither this one nor
 * root) is refused here, before any command makes, locks or reads anything in it (review 302: a link of `nobody`'s
 * had root's init lock and write its target; private-files.ts).
 */
export const deviceDir = (opts: { dir?: string | undefined; nodeId?: string | undefined }): string => {
  const dir = opts.dir !== undefined ? resolve(opts.dir) : opts.nodeId !== undefined ? resolve(`device-${opts.nodeId}`) : undefined;
  if (dir === undefined) throw new UsageError('--dir or --node-id: required (the device folder is ./device-<node id> by default)');
  assertNoForeignLinkOn(dir, 'dir', 'device folder');
  return dir;
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
