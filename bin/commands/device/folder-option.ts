import { resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { Identifier } from '../../../domain/crypto/credential.ts';
import { UsageError } from '../../program.ts';

/** The options that name a device's folder, as every `credence device` command parses them. */
export const Ids = { nodeId: Identifier.optional(), dir: z.string().min(1).max(4096).optional() };

/** The device's folder: --dir, or ./device-<node id>. */
export const deviceDir = (opts: { dir?: string | undefined; nodeId?: string | undefined }): string => {
  if (opts.dir !== undefined) return resolve(opts.dir);
  if (opts.nodeId !== undefined) return resolve(`device-${opts.nodeId}`);
  throw new UsageError('--dir or --node-id: required (the device folder is ./device-<node id> by default)');
};

export const withDevice = (command: Command): Command =>
  command.option('--dir <folder>', "the device's folder (its Secure Environment and state)").option('--node-id <id>', 'the device, when its folder is ./device-<node id>');
