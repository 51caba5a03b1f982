import { isCredenceError } from '../../../domain/errors.ts';
import { howToDestroy, type KeyHandle, type OwnedSecureEnvironment } from '../../../domain/ports/index.ts';
import type { KeyBinding, KeyRegistry } from './key-registry.ts';

/**
 * `error` ended the use of a key just made for `binding`, perhaps before the registry recorded it (its write may be
 * what failed). The key is destroyed; one the Secure Environment refuses is bound (when it was not yet) and owed, so
 * the shredder's `retryOwed` finds it; when the registry refuses that too, it is named in the error returned. Returns
 * what the caller throws: `error` itself, unless a key is left that only the error can name (review 53).
 */
export const discardNewKey = async (
  se: OwnedSecureEnvironment,
  registry: KeyRegistry,
  binding: KeyBinding,
  at: Date,
  error: unknown,
): Promise<unknown> => {
  const { stream, handle, purpose } = binding;
  let refusal: { readonly error: unknown } | undefined;
  try {
    await se.destroy(handle as KeyHandle);
  } catch (failed) {
    if (!isCredenceError(failed, 'not_found')) refusal = { error: failed };
  }
  let bound = false;
  try {
    if (refusal === undefined) {
      registry.markDestroyed(stream, handle, at);
      return error;
    }
    // Already bound: nothing changes. Not yet: bound pending, so a failure of the next write still leaves it to the
    // next start's sweep (a key of a run that cannot complete), and `owed` finds it once that write is done.
    registry.register(stream, handle, purpose, { pending: true });
    bound = true;
    registry.destroyFailed(stream, handle, at);
    return error;
  } catch (failed) {
    if (refusal === undefined) {
      // Destroyed. Its binding was not written (that write failed), or is pending: the next start's sweep settles it.
      return error;
    }
    const why = error instanceof Error ? `${error.message}; ` : '';
    const left = bound ? 'bound pending in the key registry for the next start to sweep' : 'named by nothing';
    // Bound pending, the sweep destroys it (and credence key destroy refuses a key the registry binds).
    const remedy = bound ? '' : `; ${howToDestroy(se.owner, handle)}`;
    return new AggregateError(
      [error, refusal.error, failed],
      `${why}key ${handle} (${purpose}) of ${stream} is left in the Secure Environment, ${left}: its destroy failed, and the key registry could not record it as owed${remedy}`,
    );
  }
};
