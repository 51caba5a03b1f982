import { isCredenceError } from '../errors.ts';
import type { KeyHandle, OwnedSecureEnvironment } from './secure-environment.ts';

/**
 * A key just made, whose use ended in `error` (undefined: the key is merely unwanted) before anything recorded it:
 * destroyed, one already gone counting as destroyed, and `error` returned for the caller to throw. One the Secure
 * Environment will not destroy is named in what is returned instead, with both failures, since nothing else will ever
 * name it (review 53). `named` says which key it is, e.g. "the key key_… made for CA default".
 */
export const destroyNewKey = async (se: OwnedSecureEnvironment, handle: KeyHandle, error: unknown, named: string): Promise<unknown> => {
  const failed = await se.destroy(handle).then(
    () => undefined,
    (e: unknown) => (isCredenceError(e, 'not_found') ? undefined : e),
  );
  if (failed === undefined) return error;
  const why = error instanceof Error ? `${error.message}; ` : '';
  return new AggregateError(
    error === undefined ? [failed] : [error, failed],
    `${why}${named} is left in the Secure Environment (owner ${se.owner}), named by nothing: its destroy failed`,
  );
};
