import { existsSync } from 'node:fs';

/**
 * An error naming a key left in the Secure Environment, thrown by a command that then removed the data folder it had
 * made (withCaFolder: a refused `ca init`), as the operator must read it (review 61): its `credence key destroy
 * … --data <the data folder>` names a folder that is gone. With a token the key is still there, and the command needs
 * a folder to lock and read; with the embedded Secure Environment the key went with the folder. Any other error, or
 * a folder still there, is returned as it was.
 */
export const leftKeyOfRemovedFolder = (error: unknown, data: string, embedded: boolean): unknown => {
  if (!(error instanceof AggregateError) || !error.message.includes('credence key destroy') || existsSync(data)) return error;
  const said = embedded
    ? `${data} was removed (this command made it), and that key with the embedded Secure Environment it held: nothing is left to destroy`
    : `${data} was removed (this command made it): its --data must name an existing folder, every data folder served on that token (if the token serves no other data folder, an empty one with --token-not-shared --without-records)`;
  return new AggregateError(error.errors, `${error.message}; ${said}`);
};
