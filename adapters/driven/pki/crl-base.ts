import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { validationError } from '../../../domain/errors.ts';
import type { CaId } from '../../../domain/x509/issuing-ca.ts';
import { SerialHex } from '../../../domain/x509/revocation/index.ts';
import { preparePrivateDir, writeFileAtomic } from '../files/index.ts';
import { writeJsonInTurns } from './crl-base-write.ts';
import { newerFileVersion } from '../files/newer-file-version.ts';

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
  /**
   * The next base, chosen past `rebaseAfter` entries (review 157: kept, so that a restart does not choose it again
   * later and later): its CRL number, when it takes over (the latest nextUpdate of the complete CRLs numbered below
   * it), and the serials it listed beyond the base's.
   */
  readonly next?: { readonly crlNumber: number; readonly takesOverAt: number; readonly serials: readonly string[] };
  /**
   * Those of `serials` and `next.serials` the base or the next listed with reason keyCompromise: an entry listed so now
   * and not here was raised since (docs/pki.md), and the deltas list it after a restart. Undefined in a file written
   * before raises were kept (versions 1 and 2): every entry listed as keyCompromise is then taken as raised since, and
   * listed again by the deltas (more, never less).
   */
  readonly keyCompromise?: readonly string[];
}

export interface CrlBaseStore {
  load(): CrlBase | undefined;
  /**
   * Replaces what is kept, atomically, in the background and in order (a base of a million serials is tens of MB):
   * resolves once it is on disk. Until then a restart finds the base before: its deltas list more, never less.
   */
  save(base: CrlBase): Promise<void>;
  /** The latest nextUpdate (epoch ms) of any complete CRL this CA signed: no next base takes over before it. */
  completeUntil(): number | undefined;
  /** Kept before that complete CRL is signed: a CRL refused after it only makes the next base wait longer. */
  keepCompleteUntil(at: number): void;
}

/** About 45 bytes a serial: 4 million is a 180 MB file, past any list a CA serves from this store. */
const MAX_SERIALS = 4_000_000;
const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** The layout of the CRL base files this version writes and reads; a file of a newer one is refused (load). */
const CRL_BASE_FILE_VERSION = 3;

const CrlBaseFile = z.strictObject({
  /** Version 1 (review 148) had no `next`, nor this file's sibling `<ca>.crl-complete-until.json`: read as it is. */
  version: z.union([z.literal(1), z.literal(2), z.literal(CRL_BASE_FILE_VERSION)]),
  caId: z.string().max(63),
  crlNumber: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  keyId: z.string().regex(/^[0-9a-f]{2,128}$/),
  serials: z.array(SerialHex).max(MAX_SERIALS),
  next: z
    .strictObject({
      crlNumber: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
      takesOverAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    })
    .optional(),
  /** What `next` listed beyond `serials`. */
  nextSerials: z.array(SerialHex).max(MAX_SERIALS).optional(),
  /** Version 3: which of them were listed as keyCompromise (CrlBase.keyCompromise). */
  keyCompromise: z.array(SerialHex).max(MAX_SERIALS).optional(),
});

const CompleteUntilFile = z.strictObject({
  version: z.literal(1),
  caId: z.string().max(63),
  completeUntil: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

const refused = (path: string, caId: CaId, why: string) =>
  validationError([{ path, rule: 'crl_base_file', message: `is not the CRL base file of CA ${caId}: ${why}` }], 'CRL base');

/** Another version's file is not overwritten (review 157): losing it costs relying parties one fetch of the complete CRL. */
const CRL_BASE_ADVICE =
  'start that version, or move the file out of the data folder (its delta CRLs then take a new base, and relying parties fetch the complete CRL again)';

/** A kept file that could not be read was moved aside to `movedTo` (review 157): what it held is taken as lost. */
export type CrlBaseSetAside = (path: string, movedTo: string, why: string) => void;

/**
 * The base kept in `<data>/pki/<ca>.crl-base.json`, next to the CRL numbers and written the same way (a new file,
 * fsynced, renamed over the old). Saved only after that complete CRL is signed. A file left behind (a failed write, a
 * data folder restored from a backup) names an older base: its deltas then list more, never less.
 *
 * A file that cannot be read (damaged, of another CA) is moved aside to `<file>.damaged` and told (`onSetAside`), and
 * taken as lost (review 157): losing it is harmless, the deltas take a new base and relying parties fetch the complete
 * CRL again. A file of a newer version is refused: only that version knows its layout, and it must not be overwritten.
 */
export const fileCrlBase = (dataDir: string, caId: CaId, onSetAside?: CrlBaseSetAside): CrlBaseStore => {
  let saving: Promise<unknown> = Promise.resolve();
  const dir = join(dataDir, 'pki');
  const path = join(dir, `${caId}.crl-base.json`);
  const untilPath = join(dir, `${caId}.crl-complete-until.json`);
  /** The file's JSON, or undefined (none, or moved aside as unreadable). */
  const read = <T>(file: string, supported: number, parse: (json: unknown) => T | string): T | undefined => {
    if (!existsSync(file)) return undefined;
    let why: string;
    if (statSync(file).size > MAX_FILE_BYTES) why = `larger than ${MAX_FILE_BYTES} bytes`;
    else {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        json = undefined;
      }
      if (json === undefined) why = 'not JSON';
      else {
        const version = (json as { version?: unknown } | null)?.version;
        if (typeof version === 'number' && Number.isSafeInteger(version) && version > supported) {
          throw newerFileVersion(file, 'CRL base', version, supported, CRL_BASE_ADVICE);
        }
        const parsed = parse(json);
        if (typeof parsed !== 'string') return parsed;
        why = parsed;
      }
    }
    const movedTo = `${file}.damaged`;
    try {
      renameSync(file, movedTo);
    } catch {
      // Not even moved aside (a read-only folder): refused as before, rather than overwritten unseen at the next base.
      throw refused(file, caId, why);
    }
    onSetAside?.(file, movedTo, why);
    return undefined;
  };
  return {
    load() {
      return read(path, CRL_BASE_FILE_VERSION, (json) => {
        const parsed = CrlBaseFile.safeParse(json);
        if (!parsed.success) return parsed.error.issues[0]?.message ?? 'malformed';
        const f = parsed.data;
        if (f.caId !== caId) return `it names CA ${f.caId}`;
        if ((f.next === undefined) !== (f.nextSerials === undefined)) return 'next and nextSerials go together';
        const next = f.next !== undefined ? { next: { ...f.next, serials: f.nextSerials ?? [] } } : {};
        const keyCompromise = f.keyCompromise !== undefined ? { keyCompromise: f.keyCompromise } : {};
        return { crlNumber: f.crlNumber, keyId: f.keyId, serials: f.serials, ...next, ...keyCompromise };
      });
    },
    save(base) {
      if (base.serials.length + (base.next?.serials.length ?? 0) > MAX_SERIALS) throw new RangeError(`base.serials: more than ${MAX_SERIALS}`);
      const write = async () => {
        preparePrivateDir(dir);
        const { next } = base;
        const head = { version: CRL_BASE_FILE_VERSION, caId, crlNumber: base.crlNumber, keyId: base.keyId };
        const keyCompromise = { keyCompromise: base.keyCompromise ?? [] };
        if (next === undefined) return writeJsonInTurns(path, head, { serials: base.serials, ...keyCompromise });
        const nextHead = { ...head, next: { crlNumber: next.crlNumber, takesOverAt: next.takesOverAt } };
        return writeJsonInTurns(path, nextHead, { serials: base.serials, nextSerials: next.serials, ...keyCompromise });
      };
      const run = saving.then(write, write);
      saving = run.catch(() => undefined);
      return run;
    },
    completeUntil() {
      return read(untilPath, 1, (json) => {
        const parsed = CompleteUntilFile.safeParse(json);
        if (!parsed.success) return parsed.error.issues[0]?.message ?? 'malformed';
        return parsed.data.caId === caId ? parsed.data.completeUntil : `it names CA ${parsed.data.caId}`;
      });
    },
    keepCompleteUntil(at) {
      preparePrivateDir(dir);
      writeFileAtomic(untilPath, `${JSON.stringify({ version: 1, caId, completeUntil: at })}\n`);
    },
  };
};

/** In memory (an instance without a data folder): kept for the life of the process. */
export const memoryCrlBase = (): CrlBaseStore => {
  let kept: CrlBase | undefined;
  let until: number | undefined;
  return {
    load: () => kept,
    save(base) {
      kept = { ...base, serials: [...base.serials] };
      return Promise.resolve();
    },
    completeUntil: () => until,
    keepCompleteUntil(at) {
      until = at;
    },
  };
};
