/**
 * The mark of the embedded Secure Environment, whose keys are software keys in its own files (or memory): a program
 * may open a data folder with it and no log key signer, the log key then a file beside those keys (credence serve
 * keeps it in the Secure Environment instead, for a KEK kept out of the folder). Only the embedded
 * class sets it. A registered symbol, so that a second copy of the package and a Proxy that forwards property reads
 * still show it; a hand-written decorator does not, and is judged as any other Secure Environment (the safe side).
 */
export const KEYS_IN_DATA_FOLDER: unique symbol = Symbol.for('credence.secureEnvironment.keysInDataFolder');

/** Whether `se` is marked as the embedded Secure Environment: exactly `true`, so a catch-all Proxy is not taken for one. */
export const keepsKeysInDataFolder = (se: object): boolean => (se as { readonly [KEYS_IN_DATA_FOLDER]?: unknown })[KEYS_IN_DATA_FOLDER] === true;
