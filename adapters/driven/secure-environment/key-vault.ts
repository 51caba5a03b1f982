import { unlinkSync } from 'node:fs';
import { isCredenceError, validationError, type CredenceError } from '../../../domain/errors.ts';
import { aeadOpen, aeadSeal } from '../../../domain/crypto/aead.ts';
import { toBase64url } from '../../../domain/crypto/base64url.ts';
import { concatBytes, constantTimeEqual, lengthPrefixed, utf8, wipe } from '../../../domain/crypto/bytes.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import type { KeyHandle, KeyUsage } from '../../../domain/ports/secure-environment.ts';
import { KEK_RETIRED, withRetiredKek } from './kek-retired.ts';
import { KEY_DATABASE_FORMAT as FORMAT, newerKeyDatabase } from './key-database-format.ts';
import { SealedKeyStore, type OwnedKey, type SealedKeyRecord } from './key-store.ts';

const KEY_LENGTH = 32;
const KEK_CHECK = utf8('credence/se/v1/kek-check');
const fields = (...parts: readonly string[]): Uint8Array => concatBytes(...parts.map((p) => lengthPrefixed(utf8(p))));

/**
 * The AAD of a key's seal: every field of its row (handle, owner, kind, usage, extractability, persistence, public
 * key, fingerprint, creation time) and the format, so no stored field can change without the key failing to open.
 */
const keyAad = (r: Omit<SealedKeyRecord, 'sealed'>): Uint8Array =>
  fields(
    'credence/se/v2/key',
    r.handle,
    r.owner,
    r.kind,
    r.usage ?? '',
    r.extractable ? 'extractable' : 'fixed',
    r.ephemeral ? 'ephemeral' : 'stored',
    r.publicKey ? toBase64url(r.publicKey) : '',
    r.fingerprint,
    r.createdAt,
  );
/** The AAD of a wrapping key's seal under the KEK: the handle of the one key it wraps. */
const wrappingKeyAad = (handle: KeyHandle): Uint8Array => fields('credence/se/v2/wrapping-key', handle);
/** Format 1 sealed every key directly under the KEK with this AAD. */
const formatOneAad = (r: SealedKeyRecord): Uint8Array =>
  utf8(`credence/se/v1/key\0${r.handle}\0${r.owner}\0${r.kind}\0${r.extractable ? 1 : 0}`);

/**
 * Whether `kek` opens a key database's KEK check value `check` (se_meta kek_check), read from outside a vault: which
 * KEK a copy of the folder is sealed under, without opening it (destroyed-since.ts). The opened bytes are wiped.
 */
export const kekOpensCheckValue = (kek: Uint8Array, check: Uint8Array): boolean => {
  const opened = aeadOpen(kek, check, KEK_CHECK);
  wipe(opened);
  return opened !== undefined;
};

const WRAPPING_KEYS_PRESENT = 'wrapping_keys_present';
/** The rule of a KEK other than the one that sealed this key database's keys. */
export const KEK_MATCHES_DATABASE = 'kek_matches_database';
const hasRule = (error: CredenceError, rule: string): boolean =>
  error.problem.code === 'validation' && error.problem.issues.some((issue) => issue.rule === rule);

const configurationProblem = (rule: string, message: string): CredenceError =>
  validationError([{ path: 'wrappingKeys', rule, message }], 'Secure Environment configuration');

/** A stored key whose bytes or metadata were altered, or whose wrapping key is gone: refused, never used. */
export const alteredKey = (handle: KeyHandle, reason: string): CredenceError =>
  validationError(
    [{ path: 'handle', rule: 'sealed_key_integrity', message: `key ${handle} failed its integrity check: ${reason}` }],
    'Secure Environment key',
  );

/**
 * A write, or a key's use, refused because the keys were re-sealed under another KEK after this process opened them:
 * a legitimate rotation, said as one (`done`: what did not happen), never as a key altered.
 */
const kekRotatedSinceOpened = (done = 'nothing was made') =>
  validationError(
    [{ path: 'kek', rule: KEK_MATCHES_DATABASE, message: `the keys were re-sealed under another KEK (credence kek rotate) since this process opened them: ${done}; run the command again, which opens them under the new KEK` }],
    'Secure Environment',
  );

/**
 * Keys at rest (security issue 11 items 2 and 7). Each key is sealed (XChaCha20-Poly1305) under its own random
 * wrapping key, with every stored field in the AAD; the wrapping key is sealed under the KEK in a separate file.
 * destroy() deletes both in one transaction: afterwards no copy of the key database, with everything on disk,
 * opens the key, and a re-inserted old row finds no wrapping key. A key opens only while it is live.
 */
export class KeyVault {
  readonly #store: SealedKeyStore;
  readonly #kek: Uint8Array;
  readonly #random: RandomSource;

  private constructor(store: SealedKeyStore, kek: Uint8Array, random: RandomSource) {
    this.#store = store;
    this.#kek = kek;
    this.#random = random;
  }

  /**
   * Opens both files and checks that they belong together and to `kek`; a database of format 1 (every key under
   * the KEK) is upgraded in one transaction. Takes ownership of `kek` (wiped on close or refusal). `kekMismatch`: what
   * the refusal of another KEK than the one that sealed the keys says (the caller knows where the KEK came from).
   */
  static open(database: string, wrappingKeys: string, kek: Uint8Array, random: RandomSource, kekMismatch = 'the key-encryption key does not open this key database'): KeyVault {
    let store: SealedKeyStore;
    try {
      store = new SealedKeyStore(database, wrappingKeys);
    } catch (error) {
      // Not a key database, locked past the busy timeout, unreadable: the KEK is wiped on this refusal too.
      wipe(kek);
      throw error;
    }
    const vault = new KeyVault(store, kek, random);
    try {
      store.transaction(() => vault.#prepare(database, kekMismatch));
    } catch (error) {
      store.close();
      wipe(kek);
      // Only a file this process made, and only when it stands in for a lost one: every other process opening this
      // folder refuses it too, so none is using it. (A file another process made, or one it may be setting up, is
      // never removed: that process would lose its wrapping keys.)
      if (store.wrappingKeysCreated && isCredenceError(error) && hasRule(error, WRAPPING_KEYS_PRESENT)) unlinkSync(wrappingKeys);
      throw error;
    }
    return vault;
  }

  /**
   * Runs inside one immediate transaction: a second process opening a new folder at once waits, then finds the
   * format and pairing this one wrote, and so neither refuses the other's files nor re-seals the other's keys.
   */
  #prepare(database: string, kekMismatch: string): void {
    const store = this.#store;
    const format = store.getMeta('format')?.[0];
    const pairing = store.getMeta('pairing');
    const theirs = store.getWrapMeta('pairing');
    // Checked when the store opened it too (key-database-format.ts); again here, in the transaction that reads it.
    if (format !== undefined && format > FORMAT) throw newerKeyDatabase(database, format);
    // Checked before the KEK: with the wrapping keys gone no KEK opens a key, and the message names what to restore.
    if (format === FORMAT && theirs === undefined) {
      throw configurationProblem(WRAPPING_KEYS_PRESENT, 'the wrapping-key file of this key database is missing: restore it (it is as secret as the KEK)');
    }
    const check = store.getMeta('kek_check');
    // Before anything is written: under another KEK no key is made or re-sealed, so keys under two KEKs never mix.
    if (check !== undefined && aeadOpen(this.#kek, check, KEK_CHECK) === undefined) {
      throw validationError([{ path: 'kek', rule: KEK_MATCHES_DATABASE, message: kekMismatch }], 'Secure Environment configuration');
    }
    if (format === FORMAT) {
      if (pairing === undefined || theirs === undefined || !constantTimeEqual(pairing, theirs)) {
        throw configurationProblem('wrapping_keys_match_database', 'the wrapping-key file belongs to another key database');
      }
      return;
    }
    // Named by its file: the key database holds the format (it was said of `wrappingKeys`, review 198).
    if (format !== undefined) {
      throw validationError([{ path: 'database', rule: 'format', message: `${database}: unknown key database format ${format} (no earlier version wrote it, and a newer one writes a higher one): a damaged file` }], 'Secure Environment configuration');
    }
    if (theirs !== undefined) {
      throw configurationProblem('wrapping_keys_match_database', 'the wrapping-key file already belongs to another key database');
    }
    // A new database, or one of format 1: both files are set up (and every key re-sealed) in this transaction.
    if (check === undefined) store.setMeta('kek_check', aeadSeal(this.#kek, KEK_CHECK, KEK_CHECK, this.#random));
    for (const record of store.allStored()) this.#upgrade(record);
    const fresh = this.#random(16).slice();
    store.setMeta('pairing', fresh);
    store.setWrapMeta('pairing', fresh);
    store.setMeta('format', Uint8Array.of(FORMAT));
  }

  #upgrade(record: SealedKeyRecord): void {
    const bytes = aeadOpen(this.#kek, record.sealed, formatOneAad(record));
    if (bytes === undefined) throw alteredKey(record.handle, 'its format-1 seal does not open under the KEK');
    const usage: KeyUsage | undefined = record.kind === 'ed25519' || record.kind === 'p256' ? 'sign' : record.kind === 'x25519' ? 'agree' : undefined;
    const upgraded = { ...record, ...(usage ? { usage } : {}) };
    const { sealed, wrappingKey } = this.#seal(upgraded, bytes);
    this.#store.reseal(record.handle, usage, sealed, wrappingKey);
  }

  /** Seals `bytes` for a new record under a fresh wrapping key; the caller still owns (and wipes) `bytes`. */
  put(meta: Omit<SealedKeyRecord, 'sealed'>, bytes: Uint8Array): void {
    const { sealed, wrappingKey } = this.#seal(meta, bytes);
    if (meta.ephemeral) return this.#store.put({ ...meta, sealed }, wrappingKey);
    // Checked in the write's own transaction: a process that opened the folder before `credence kek rotate` committed
    // (`token create --data` beside a stopped service takes no lock) would otherwise store a wrapping key under the old
    // KEK, which no file holds any more: a key lost the moment it was made.
    this.#store.transaction(() => {
      if (!this.checkOpensUnderKek()) throw kekRotatedSinceOpened();
      this.#store.put({ ...meta, sealed }, wrappingKey);
    });
  }

  #seal(meta: Omit<SealedKeyRecord, 'sealed'>, bytes: Uint8Array): { sealed: Uint8Array; wrappingKey: Uint8Array } {
    const dek = this.#random(KEY_LENGTH).slice();
    try {
      return {
        sealed: aeadSeal(dek, bytes, keyAad(meta), this.#random),
        wrappingKey: aeadSeal(this.#kek, dek, wrappingKeyAad(meta.handle), this.#random),
      };
    } finally {
      wipe(dek);
    }
  }

  /**
   * Re-seals every wrapping key and the KEK check value under `next` in one transaction over both files (`credence kek
   * rotate`; SQLite's super-journal commits the two at once): committed, only `next` opens the keys; rolled back (a
   * crash, an altered wrapping key), only the KEK this vault was opened with. The keys' own seals, under their wrapping
   * keys, are left as they are. This vault then works under `next` (copied: the caller still owns and wipes `next`).
   * Answers how many stored wrapping keys were re-sealed.
   */
  resealUnder(next: Uint8Array): number {
    if (next.length !== KEY_LENGTH) throw new TypeError(`next: a KEK is ${KEY_LENGTH} bytes, not ${next.length}`);
    const rewrap = (handle: KeyHandle, sealed: Uint8Array): Uint8Array => {
      const dek = aeadOpen(this.#kek, sealed, wrappingKeyAad(handle));
      if (dek === undefined) throw alteredKey(handle, 'its wrapping key was altered');
      try {
        return aeadSeal(next, dek, wrappingKeyAad(handle), this.#random);
      } finally {
        wipe(dek);
      }
    };
    const resealed = this.#store.transaction(() => {
      const stored = this.#store.allWrappingKeys();
      for (const { handle, sealed } of stored) this.#store.replaceWrappingKey(handle, rewrap(handle, sealed));
      // The KEK rotated out named, in the same commit: a backup restored over this folder later brings it back, and
      // `key destroy-since-backup` tells so by it (kek-retired.ts).
      const check = this.#store.getMeta('kek_check');
      if (check !== undefined) this.#store.setMeta(KEK_RETIRED, withRetiredKek(this.#store.getMeta(KEK_RETIRED), check));
      this.#store.setMeta('kek_check', aeadSeal(next, KEK_CHECK, KEK_CHECK, this.#random));
      return stored.length;
    });
    this.#store.resealEphemeralWrappingKeys(rewrap);
    this.#kek.set(next);
    return resealed;
  }

  /** Whether the KEK check value as stored now opens under this vault's KEK (a rotation that failed was rolled back). */
  checkOpensUnderKek(): boolean {
    const check = this.#store.getMeta('kek_check');
    return check !== undefined && aeadOpen(this.#kek, check, KEK_CHECK) !== undefined;
  }

  /** The stored metadata, not yet authenticated: use it only to refuse early; unseal() authenticates it. */
  record(handle: KeyHandle): SealedKeyRecord | undefined {
    return this.#store.get(handle);
  }

  /** The key bytes (the caller wipes them), after checking that the key is live and no stored field changed. */
  unseal(record: SealedKeyRecord): Uint8Array {
    const wrapped = this.#store.wrappingKey(record.handle);
    if (wrapped === undefined) throw alteredKey(record.handle, 'it was destroyed (its wrapping key is gone); this row is a restored or re-inserted copy');
    const dek = aeadOpen(this.#kek, wrapped, wrappingKeyAad(record.handle));
    if (dek === undefined) {
      // A process that opened the folder before `credence kek rotate` committed (`export` takes no lock) reads wrapping
      // keys sealed under a KEK it does not hold (review 218: an auditor was told "altered"). Only a wrapping key that
      // fails while the KEK check still opens under this vault's KEK was altered.
      if (!this.checkOpensUnderKek()) throw kekRotatedSinceOpened('the key was not used');
      throw alteredKey(record.handle, 'its wrapping key was altered');
    }
    try {
      const bytes = aeadOpen(dek, record.sealed, keyAad(record));
      if (bytes === undefined) throw alteredKey(record.handle, 'its stored bytes or metadata were altered');
      return bytes;
    } finally {
      wipe(dek);
    }
  }

  /** `owner`'s keys after `after`, metadata only (SealedKeyStore.owned). */
  owned(owner: string, after: string, count: number): OwnedKey[] {
    return this.#store.owned(owner, after, count);
  }

  /** `at`: when, by the Secure Environment's clock (ISO 8601), kept as the key database's last change (key-store.ts). */
  delete(handle: KeyHandle, at: string): boolean {
    return this.#store.delete(handle, at);
  }

  close(): void {
    this.#store.close();
    wipe(this.#kek);
  }
}
