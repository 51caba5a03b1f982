import { isKeyNotFound } from '../../domain/errors.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../domain/ports/index.ts';

/** Whether the Secure Environment still holds `handle` for this owner: destroyed is false, any other failure throws. */
export const isHeld = (se: OwnedSecureEnvironment, handle: KeyHandle): Promise<boolean> =>
  se.describe(handle).then(
    () => true,
    (error: unknown) => {
      if (isKeyNotFound(error)) return false;
      throw error;
    },
  );
