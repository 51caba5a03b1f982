import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { validationError } from '../../../domain/errors.ts';
import type { CaId } from '../../../domain/x509/issuing-ca.ts';
import { SerialHex } from '../../../domain/x509/revocation/index.ts';
import { preparePrivateDir, writeFileAtomic } from '../files/index.ts';
import { refuseNewerFileVersion } from '../files/newer-file-version.ts';

/**
 * The complete CRL a CA's delta CRLs are on (their deltaCRLIndicator) and the serials it listed, kept across restarts
 * so that a restart does not move the base: a relying party holding a complete CRL numbered at or above it goes on
 * using the deltas (RFC 5280 5.2.4). After a restart the publisher finds, in the list read again, the first entry that
 * base did not list; the deltas start there (pki-crl-publisher.ts).
 */
export interface CrlBase {
  readonly crlNumber: number;
  /** The CA key that signed it (authorityKeyIdentifier, lower-case hex): a CA made again under the id has another. */
  readonly keyId: string;
  readonly serials: readonly string[];
}

export interface CrlBaseStore {
  load(): CrlBase | undefined;
  /** Replaces what is kept, atomically. */
  save(base: CrlBase): void;
}

/** About 45 bytes a serial: 4 million is a 180 MB file, past any list a CA serves from this store. */
const MAX_SERIALS = 4_000_000;
const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** The layout of the CRL base files this version writes and reads; a file of a newer one is refused (load). */
const CRL_BASE_FILE_VERSION = 1;

const CrlBaseFile = z.strictObject({
  version: z.literal(CRL_BASE_FILE_VERSION),
  caId: z.string().max(63),
  crlNumber: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  keyId: z.string().regex(/^[0-9a-f]{2,128}$/),
  serials: z.array(SerialHex).max(MAX_SERIALS),
});

const refused = (path: string, caId: CaId, why: string) =>
  validationError([{ path, rule: 'crl_base_file', message: `is not the CRL base file of CA ${caId}: ${why}` }], 'CRL base');

/**
 * The base kept in `<data>/pki/<ca>.crl-base.json`, next to the CRL numbers and written the same way (a new file,
 * fsynced, renamed over the old). Saved only after that complete CRL is signed. A file left behind (a failed write, a
 * data folder restored from a backup) names an older base: its deltas then list more, never less.
 */
export const fileCrlBase = (dataDir: string, caId: CaId): CrlBaseStore => {
  const dir = join(dataDir, 'pki');
  const path = join(dir, `${caId}.crl-base.json`);
  return {
    load() {
      if (!existsSync(path)) return undefined;
      if (statSync(path).size > MAX_FILE_BYTES) throw refused(path, caId, `larger than ${MAX_FILE_BYTES} bytes`);
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(path, 'utf8'));
      } catch {
        throw refused(path, caId, 'not JSON');
      }
      refuseNewerFileVersion(json, path, 'CRL base', CRL_BASE_FILE_VERSION);
      const parsed = CrlBaseFile.safeParse(json);
      if (!parsed.success) throw refused(path, caId, parsed.error.issues[0]?.message ?? 'malformed');
      if (parsed.data.caId !== caId) throw refused(path, caId, `it names CA ${parsed.data.caId}`);
      return { crlNumber: parsed.data.crlNumber, keyId: parsed.data.keyId, serials: parsed.data.serials };
    },
    save(base) {
      if (base.serials.length > MAX_SERIALS) throw new RangeError(`base.serials: more than ${MAX_SERIALS}`);
      preparePrivateDir(dir);
      writeFileAtomic(path, `${JSON.stringify({ version: CRL_BASE_FILE_VERSION, caId, ...base })}\n`);
    },
  };
};

/** In memory (an instance without a data folder): kept for the life of the process. */
export const memoryCrlBase = (): CrlBaseStore => {
  let kept: CrlBase | undefined;
  return {
    load: () => kept,
    save(base) {
      kept = { ...base, serials: [...base.serials] };
    },
  };
};
