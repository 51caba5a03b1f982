import { join } from 'node:path';
import { z } from 'zod';
import { KekSource, MAX_PATH_CHARS } from './kek.ts';
import { MAX_OWNER_CHARS } from './port-checks.ts';
import { EMBEDDED_SE_DATABASE_FILE, EMBEDDED_SE_WRAPPING_KEYS_FILE, IN_FOLDER_KEK_FILE } from '../files/embedded-secure-environment-files.ts';

/** Bounds of the owner allow-list (SER-001): an owner is an id such as `node:<Node-ID>` (port-checks.ts bounds its length). */
export const MAX_OWNERS = 10_000;

export const EmbeddedSecureEnvironmentConfig = z
  .strictObject({
    /** SQLite file path, or ':memory:'. */
    database: z.string().min(1).max(MAX_PATH_CHARS),
    /**
     * SQLite file of the per-key wrapping keys (each sealed under the KEK); default `<database>.wrapping-keys`,
     * in memory with an in-memory database. As secret as the KEK: a copy of it revives destroyed keys.
     */
    wrappingKeys: z.string().min(1).max(MAX_PATH_CHARS).optional(),
    kek: KekSource,
    /** When given, the only owners this environment serves; any other is refused as `unauthorised`. */
    owners: z.array(z.string().min(1).max(MAX_OWNER_CHARS)).min(1).max(MAX_OWNERS).optional(),
  })
  .refine((c) => c.kek.source !== 'ephemeral' || c.database === ':memory:', {
    message: 'an ephemeral KEK would make a database file unreadable after a restart',
    path: ['kek', 'source'],
  })
  .refine((c) => c.wrappingKeys === undefined || (c.wrappingKeys === ':memory:') === (c.database === ':memory:'), {
    message: 'the wrapping keys are in memory exactly when the key database is',
    path: ['wrappingKeys'],
  });
export type EmbeddedSecureEnvironmentConfig = z.infer<typeof EmbeddedSecureEnvironmentConfig>;

/** The KEK file of a data folder's embedded Secure Environment when none is named outside it. */
export { IN_FOLDER_KEK_FILE };

/**
 * The default layout in a data folder: the key database, its wrapping keys and its generated 0600 key file, in the
 * folder unless `kekFile` names one outside it (CREDENCE_KEK_FILE: then a copy of the folder holds no KEK).
 */
export const secureEnvironmentConfigForDataDir = (dataDir: string, kekFile?: string): EmbeddedSecureEnvironmentConfig => ({
  database: join(dataDir, EMBEDDED_SE_DATABASE_FILE),
  wrappingKeys: join(dataDir, EMBEDDED_SE_WRAPPING_KEYS_FILE),
  kek: { source: 'file', path: kekFile ?? join(dataDir, IN_FOLDER_KEK_FILE) },
});

export const wrappingKeysPath = (c: EmbeddedSecureEnvironmentConfig): string =>
  c.wrappingKeys ?? (c.database === ':memory:' ? ':memory:' : `${c.database}.wrapping-keys`);
