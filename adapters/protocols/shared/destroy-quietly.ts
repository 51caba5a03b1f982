import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';

/** Cleanup after a failed or finished run: destroys handles that may already be gone. */
export const destroyQuietly = async (
  se: OwnedSecureEnvironment,
  ...handles: readonly (KeyHandle | undefined)[]
): Promise<void> => {
  for (const handle of handles) {
    if (handle === undefined) continue;
    try {
      await se.destroy(handle);
    } catch {
      // already destroyed: nothing left to clean
    }
  }
};
