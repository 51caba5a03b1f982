import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CredentialDescriptor, Identifier, IsoTimestamp } from '../../../domain/crypto/credential.ts';
import { validationError } from '../../../domain/errors.ts';
import { KeyHandle } from '../../../domain/ports/secure-environment.ts';
import { writeFileAtomic } from '../../../adapters/driven/files/index.ts';
import { refuseNewerFileVersion } from '../../../adapters/driven/files/newer-file-version.ts';
import { FILE_LIMITS, readJsonFile } from '../../files.ts';

/**
 * A factory step under way (`device init`): the bootstrap key made, its commands sent or about to be. Kept until the
 * device's state is written, so that an init whose outcome is unknown (an answer lost in transit) is finished by
 * running it again with the same key, its commands then the same ones under the same ids (found in review: a rerun
 * made a new key, so the server's credential named a key no longer anywhere). A handle and public values only.
 */
const PENDING_INIT_VERSION = 1;

export const PendingInit = z.strictObject({
  version: z.literal(PENDING_INIT_VERSION),
  nodeId: Identifier,
  bootstrapCredentialId: Identifier,
  /** The registration as sent: a rerun must send the same one. */
  registration: z.string().max(8_192),
  handle: KeyHandle,
  descriptor: CredentialDescriptor,
  validity: z.strictObject({ notBefore: IsoTimestamp, notAfter: IsoTimestamp }),
});
export type PendingInit = z.infer<typeof PendingInit>;

const FILE = 'device-init.pending.json';

export const pendingInitFile = (dir: string): string => join(dir, FILE);

export const readPendingInit = (dir: string): PendingInit | undefined => {
  const path = pendingInitFile(dir);
  if (!existsSync(path)) return undefined;
  const read = readJsonFile(path, FILE_LIMITS.json);
  // Before the schema, as device.json (state.ts): a newer version's unfinished init is no damaged file of this one.
  if (read.ok) refuseNewerFileVersion(read.value, path, 'unfinished device init', PENDING_INIT_VERSION);
  const parsed = read.ok ? PendingInit.safeParse(read.value) : undefined;
  if (parsed?.success !== true) {
    throw validationError([{ path: 'dir', rule: 'device-state', message: `${path}: not an unfinished device init this version wrote` }], 'device folder');
  }
  return parsed.data;
};

/** Atomic and private (0600), like every file next to a Secure Environment. */
export const writePendingInit = (dir: string, pending: PendingInit): void => {
  writeFileAtomic(pendingInitFile(dir), `${JSON.stringify(PendingInit.parse(pending), null, 2)}\n`);
};

export const forgetPendingInit = (dir: string): void => rmSync(pendingInitFile(dir), { force: true });
