import { isKeyNotFound } from '../../domain/errors.ts';
import type { KeyHandle } from '../../domain/ports/index.ts';
import { withDataFolderSe } from './key-held.ts';

/**
 * Whether an HKDF derivation from `key`, in the data folder's embedded Secure Environment as `owner` sees it, fails as
 * a destroyed key does (`not_found`): a key still held would be usable, whatever keys.db says. Any other failure throws.
 */
export const deriveFailsNotFound = (dir: string, key: KeyHandle, owner = 'maf:infrastructure'): Promise<boolean> =>
  withDataFolderSe(dir, owner, (se) =>
    se.deriveKey({ inputs: [key], salt: new Uint8Array(32), info: new Uint8Array([1]), kind: 'session256' }).then(
      () => false,
      (error: unknown) => {
        if (isKeyNotFound(error)) return true;
        throw error;
      },
    ),
  );
