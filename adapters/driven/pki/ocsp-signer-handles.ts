import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { validationError } from '../../../domain/errors.ts';
import { KeyHandle } from '../../../domain/ports/secure-environment.ts';
import { refuseNewerFileVersion } from '../files/newer-file-version.ts';
import { pkiDir } from './ca-file.ts';
import { OCSP_SIGNER_FILE_VERSION } from './ocsp-signing-key.ts';

const SUFFIX = '.ocsp.json';
/** As ocsp-signing-key.ts bounds the file it writes. */
const MAX_FILE_BYTES = 64 * 1024;

/** The keys of an OCSP signer file (ocsp-signing-key.ts OcspSignerFile): only what names a key, the rest unread. */
const SignerKeys = z.object({ caId: z.string().max(63), keyHandle: KeyHandle, retired: z.array(KeyHandle).max(64) });

/** A key an OCSP signer file names: its current one, or one retired at a renewal (destroyed at the next). */
export interface OcspSignerHandle {
  readonly caId: string;
  readonly handle: KeyHandle;
  readonly state: 'current' | 'retired';
  readonly file: string;
}

/**
 * Every key the OCSP signer files of `<data>/pki/` name. A file that cannot be read is a `validation` refusal naming
 * it: which keys it names is then unknown, so a command that destroys keys must not go on.
 */
export const ocspSignerHandles = (dataDir: string): OcspSignerHandle[] => {
  const dir = pkiDir(dataDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(SUFFIX))
    .sort()
    .flatMap((name) => {
      const file = join(dir, name);
      const refuse = (message: string) => validationError([{ path: file, rule: 'ocsp_signer_file', message }], 'OCSP signer');
      if (statSync(file).size > MAX_FILE_BYTES) throw refuse(`larger than ${MAX_FILE_BYTES} bytes`);
      let value: unknown;
      try {
        value = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        throw refuse('is not valid JSON');
      }
      // Which keys a newer layout names, and where, only that version knows.
      refuseNewerFileVersion(value, file, 'OCSP signer', OCSP_SIGNER_FILE_VERSION);
      const parsed = SignerKeys.safeParse(value);
      if (!parsed.success) throw refuse(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
      const { caId, keyHandle, retired } = parsed.data;
      return [
        { caId, handle: keyHandle, state: 'current' as const, file },
        ...retired.map((handle) => ({ caId, handle, state: 'retired' as const, file })),
      ];
    });
};
