import type { KeyHandle, OwnedSecureEnvironment } from '../../domain/ports/index.ts';

/**
 * `se` whose `destroy` the test can make refuse (an error that is not `not_found`, as a busy token or a slot gone for a
 * moment answers), and whether a key is still held: review 53 found keys dropped, named by nothing, after such a refusal.
 */
export const refusingDestroy = (se: OwnedSecureEnvironment) => {
  let refusing = false;
  const refused: KeyHandle[] = [];
  const made: KeyHandle[] = [];
  // A copy, not a Proxy: an owner view is frozen, and a Proxy may not answer another `destroy` than a frozen target's.
  const view: OwnedSecureEnvironment = {
    ...se,
    generate: async (kind, options) => {
      const handle = await se.generate(kind, options);
      made.push(handle);
      return handle;
    },
    destroy: async (handle: KeyHandle) => {
      if (refusing) {
        refused.push(handle);
        throw new Error('CKR_DEVICE_ERROR: the token did not answer');
      }
      return se.destroy(handle);
    },
  };
  return {
    se: view,
    /** Handles it generated, in order. */
    made,
    /** Handles whose destroy was refused, in order. */
    refused,
    refuse: (on = true) => {
      refusing = on;
    },
    held: (handle: string): Promise<boolean> => se.describe(handle as KeyHandle).then(() => true, () => false),
  };
};
