import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_HANDLE_FILE } from '../../adapters/driven/transparency/index.ts';
import type { CheckpointSigner } from '../../domain/transparency/index.ts';
import type { Io } from '../io.ts';
import { UsageError } from '../program.ts';

/** The log key a local export signs a checkpoint with: the folder's key file (`signer` absent), or the HSM's. */
export interface ExportLogKey {
  readonly signer?: CheckpointSigner;
  close(): void;
}

/**
 * A folder whose log key is in an HSM (`transparency.handle`, made by `credence serve --secure-environment pkcs11:…`)
 * is signed for there, through the Secure Environment of CREDENCE_SECURE_ENVIRONMENT (the PIN as the service takes
 * it): never with a key file made here, which would be a second log identity.
 */
export const openExportLogKey = async (data: string, origin: string, io: Io): Promise<ExportLogKey> => {
  if (!existsSync(join(data, KEY_HANDLE_FILE))) return { close: () => undefined };
  const env = io.env ?? process.env;
  const runtime = await import('../../adapters/runtime/data-folder.ts');
  const setting = env['CREDENCE_SECURE_ENVIRONMENT'];
  if (setting === undefined || runtime.isEmbedded(setting)) {
    throw new UsageError(
      `${data}: the transparency log key is in an HSM (${KEY_HANDLE_FILE} names it): set CREDENCE_SECURE_ENVIRONMENT to the pkcs11: URI the service runs with`,
    );
  }
  const se = runtime.openServiceSecureEnvironment(data, setting, { now: () => new Date(), env });
  try {
    const { openHsmLogKey } = await import('../../adapters/runtime/transparency-key.ts');
    const key = await openHsmLogKey(data, se, origin);
    // Both a key file and a handle are refused by openHsmLogKey: with a handle, the key is the HSM's.
    if (key.place !== 'hsm') throw new Error(`${data}: no transparency log key in the HSM`);
    return { signer: key.signer, close: () => se.close() };
  } catch (error) {
    se.close();
    throw error;
  }
};
