/**
 * The names of a data folder's embedded Secure Environment files, in the folder by default: its key database, the
 * wrapping keys it seals them with, and the KEK unless CREDENCE_KEK_FILE names one outside it. Here, beside the other
 * file utilities, so that an adapter which must tell those files apart (the transparency log's start checks) needs no
 * import of the Secure Environment adapter.
 */
export const EMBEDDED_SE_DATABASE_FILE = 'secure-environment.sqlite';
export const EMBEDDED_SE_WRAPPING_KEYS_FILE = 'secure-environment.wrapping-keys';
export const IN_FOLDER_KEK_FILE = 'secure-environment.kek';
