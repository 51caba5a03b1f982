import { isCredenceError } from '../errors.ts';
import type { KeyHandle, OwnedSecureEnvironment } from './secure-environment.ts';

/**
 * What an operator runs to destroy a key only an error names: the command in full, since that error is the only place
 * left that names the key. A handle is no secret. With a token, every data folder it serves is named (or the one is
 * said to be its only one): their keys share the owners, so a folder left out is not checked (review 61 finding 1).
 */
export const howToDestroy = (owner: string, handle: string): string =>
  `once the Secure Environment answers again, destroy it with the service stopped: credence key destroy --owner ${owner} --handle ${handle} --data <the data folder> ` +
  '(with an HSM: --data for every data folder served on that token, or --token-not-shared)';

/**
 * A key just made, whose use ended in `error` (undefined: the key is merely unwanted) before anything recorded it:
 * destroyed, one already gone counting as destroyed, and `error` returned for the caller to throw. One the Secure
 * Environment will not destroy is named in what is returned instead, with both failures, since nothing else will ever
 * name it (review 53), with the command that destroys it (`credence key destroy`, bin/commands/key.ts). `named` says
 * which key it is, e.g. "the key key_… made for CA default".
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
    `${why}${named} is left in the Secure Environment (owner ${se.owner}), named by nothing: its destroy failed; ${howToDestroy(se.owner, handle)}`,
  );
};
