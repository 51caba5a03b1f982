import { failedIn, type Pkcs11, type Pkcs11Handle, type Pkcs11Template } from './module.ts';

/**
 * One object search: C_FindObjectsInit, C_FindObjects for batches of up to `size` objects, each handed to `each`,
 * until one comes short (or after the first, when not `all`), then C_FindObjectsFinal. Review 407: a failure is told
 * as the call that failed (`method` set on its error), and C_FindObjectsFinal's own failure after it (the session
 * lost with it) is not thrown in its place: before, the search's `finally` named C_FindObjectsFinal, which had not
 * failed, or threw its error over the one of the call that had.
 */
export const searchObjects = (
  module: Pkcs11,
  session: Pkcs11Handle,
  template: Pkcs11Template,
  size: number,
  each: (batch: Pkcs11Handle[]) => void,
  all = true,
): void => {
  module.C_FindObjectsInit(session, template);
  try {
    for (;;) {
      let batch: Pkcs11Handle[];
      try {
        batch = module.C_FindObjects(session, size);
      } catch (error) {
        throw failedIn('C_FindObjects', error);
      }
      each(batch);
      if (!all || batch.length < size) break;
    }
  } catch (error) {
    try {
      module.C_FindObjectsFinal(session);
    } catch {
      // Ended with the session (the failure told is the search's own), or met by the next call on it.
    }
    throw error;
  }
  module.C_FindObjectsFinal(session);
};
