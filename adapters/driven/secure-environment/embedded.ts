import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { z } from 'zod';
import { notFound, unauthorised, validationError } from '../../../domain/errors.ts';
import { aeadOpen, aeadSeal } from '../../../domain/crypto/aead.ts';
import { agreementPublicKey, sharedSecret, type AgreementGroup } from '../../../domain/crypto/agreement.ts';
import { assertBytes, concatBytes, constantTimeEqual, utf8, wipe } from '../../../domain/crypto/bytes.ts';
import type { Clock } from '../../../domain/ports/clock.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { publicKeyFingerprint, secretKeyFingerprint } from '../../../domain/crypto/fingerprint.ts';
import { hkdfSha256, hmacSha256 } from '../../../domain/crypto/hash.ts';
import { generateSigningKey, sign, signingPublicKey } from '../../../domain/crypto/signatures.ts';
import { toBase64url } from '../../../domain/crypto/base64url.ts';
import { assertJsonWithin } from '../../../domain/json-limits.ts';
import { KekSource, loadKek, MAX_PATH_CHARS } from './kek.ts';
import { SealedKeyStore, type SealedKeyRecord } from './key-store.ts';
import type {
  DeriveKeySpec,
  GeneratedKeyKind,
  KeyDescription,
  KeyHandle,
  KeyKind,
  KeyOptions,
  SecureEnvironment,
  UnwrapSpec,
} from '../../../domain/ports/secure-environment.ts';

export const EmbeddedSecureEnvironmentConfig = z
  .strictObject({
    /** SQLite file path, or ':memory:'. */
    database: z.string().min(1).max(MAX_PATH_CHARS),
    kek: KekSource,
  })
  .refine((c) => c.kek.source !== 'ephemeral' || c.database === ':memory:', {
    message: 'an ephemeral KEK would make a database file unreadable after a restart',
    path: ['kek', 'source'],
  });
export type EmbeddedSecureEnvironmentConfig = z.infer<typeof EmbeddedSecureEnvironmentConfig>;

/** The default layout in a data folder: the key database and its generated 0600 key file side by side. */
export const secureEnvironmentConfigForDataDir = (dataDir: string): EmbeddedSecureEnvironmentConfig => ({
  database: join(dataDir, 'secure-environment.sqlite'),
  kek: { source: 'file', path: join(dataDir, 'secure-environment.kek') },
});

export interface EmbeddedSecureEnvironmentDeps {
  readonly now: Clock['now'];
  readonly random: RandomSource;
}

const KEY_LENGTH = 32;
const KEK_CHECK = utf8('credence/se/v1/kek-check');
const sealAad = (r: Pick<SealedKeyRecord, 'handle' | 'owner' | 'kind' | 'extractable'>): Uint8Array =>
  utf8(`credence/se/v1/key\0${r.handle}\0${r.owner}\0${r.kind}\0${r.extractable ? 1 : 0}`);
const wrapAad = (kind: KeyKind, aad: Uint8Array): Uint8Array => concatBytes(utf8(`credence/se/v1/wrap\0${kind}\0`), aad);

const misuse = (operation: string, kind: KeyKind): TypeError => new TypeError(`handle: a ${kind} key cannot ${operation}`);
const requireKind = <K extends KeyKind>(record: SealedKeyRecord, operation: string, allowed: readonly K[]): K => {
  if (!(allowed as readonly KeyKind[]).includes(record.kind)) throw misuse(operation, record.kind);
  return record.kind as K;
};
const requireOwner = (owner: string): void => {
  if (typeof owner !== 'string' || owner.length === 0) throw new TypeError('owner must be a non-empty string');
};

/**
 * The embedded Secure Environment: every key sealed at rest with XChaCha20-Poly1305 under the KEK, the seal bound
 * to the key's handle, owner, kind and extractability (a row copied onto another handle or owner does not open).
 * Plaintext key bytes exist only for the duration of one operation and are wiped afterwards.
 */
export class EmbeddedSecureEnvironment implements SecureEnvironment {
  readonly #store: SealedKeyStore;
  readonly #kek: Uint8Array;
  readonly #now: Clock['now'];
  readonly #random: RandomSource;

  private constructor(store: SealedKeyStore, kek: Uint8Array, deps: EmbeddedSecureEnvironmentDeps) {
    this.#store = store;
    this.#kek = kek;
    this.#now = deps.now;
    this.#random = deps.random;
  }

  /**
   * Parses the configuration (beyond the JSON limits, a `validation` error naming the limit: SER-001); a KEK that
   * does not open this database's check value is a `validation` error.
   */
  static open(config: unknown, deps: EmbeddedSecureEnvironmentDeps): EmbeddedSecureEnvironment {
    assertJsonWithin(config, 'Secure Environment configuration');
    const parsed = EmbeddedSecureEnvironmentConfig.safeParse(config);
    if (!parsed.success) {
      throw validationError(
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), rule: i.code, message: i.message })),
        'Secure Environment configuration',
      );
    }
    const kek = loadKek(parsed.data.kek, deps.random);
    const store = new SealedKeyStore(parsed.data.database);
    const check = store.getMeta('kek_check');
    if (check === undefined) store.setMeta('kek_check', aeadSeal(kek, KEK_CHECK, KEK_CHECK, deps.random));
    else if (aeadOpen(kek, check, KEK_CHECK) === undefined) {
      store.close();
      wipe(kek);
      throw validationError(
        [{ path: 'kek', rule: 'kek_matches_database', message: 'the key-encryption key does not open this key database' }],
        'Secure Environment configuration',
      );
    }
    return new EmbeddedSecureEnvironment(store, kek, deps);
  }

  close(): void {
    this.#store.close();
    wipe(this.#kek);
  }

  async generate(owner: string, kind: GeneratedKeyKind, options: KeyOptions = {}): Promise<KeyHandle> {
    requireOwner(owner);
    if (kind === 'psk256') return this.#put(owner, kind, this.#random(KEY_LENGTH).slice(), options);
    if (kind === 'x25519') return this.#put(owner, kind, this.#random(KEY_LENGTH).slice(), options);
    if (kind === 'ed25519' || kind === 'p256') {
      const { secretKey, publicKey } = generateSigningKey(kind, this.#random);
      return this.#put(owner, kind, secretKey, options, publicKey);
    }
    throw new TypeError(`kind: cannot generate ${String(kind)}`);
  }

  async describe(owner: string, handle: KeyHandle): Promise<KeyDescription> {
    const record = this.#record(owner, handle);
    return {
      handle,
      kind: record.kind,
      fingerprint: record.fingerprint,
      ...(record.publicKey ? { publicKey: record.publicKey.slice() } : {}),
      ephemeral: record.ephemeral,
      extractable: record.extractable,
    };
  }

  async sign(owner: string, handle: KeyHandle, message: Uint8Array): Promise<Uint8Array> {
    assertBytes(message, 'message');
    const record = this.#record(owner, handle);
    const kind = requireKind(record, 'sign', ['ed25519', 'p256'] as const);
    return this.#with(record, (secretKey) => sign(kind, secretKey, message));
  }

  async agree(owner: string, handle: KeyHandle, peerPublicKey: Uint8Array): Promise<KeyHandle> {
    assertBytes(peerPublicKey, 'peerPublicKey');
    const record = this.#record(owner, handle);
    const group: AgreementGroup = requireKind(record, 'agree', ['p256', 'x25519'] as const);
    const secret = this.#with(record, (secretKey) => sharedSecret(group, secretKey, peerPublicKey));
    if (secret === undefined) {
      throw validationError(
        [{ path: 'peerPublicKey', rule: 'curve_point', message: `is not an acceptable ${group} public key` }],
        'key agreement',
      );
    }
    return this.#put(owner, 'secret', secret, { ephemeral: true });
  }

  async deriveKey(owner: string, spec: DeriveKeySpec): Promise<KeyHandle> {
    if (spec.inputs.length === 0) throw new TypeError('spec.inputs must name at least one key');
    assertBytes(spec.salt, 'spec.salt');
    assertBytes(spec.info, 'spec.info');
    const records = spec.inputs.map((handle) => this.#record(owner, handle));
    records.forEach((r) => requireKind(r, 'be derived from', ['secret', 'psk256', 'session256'] as const));
    const parts = records.map((r) => this.#unseal(r));
    const ikm = concatBytes(...parts);
    try {
      return this.#put(owner, spec.kind, hkdfSha256(ikm, spec.salt, spec.info, KEY_LENGTH), spec);
    } finally {
      wipe(ikm, ...parts);
    }
  }

  async mac(owner: string, handle: KeyHandle, message: Uint8Array): Promise<Uint8Array> {
    assertBytes(message, 'message');
    const record = this.#record(owner, handle);
    requireKind(record, 'mac', ['psk256', 'session256'] as const);
    return this.#with(record, (key) => hmacSha256(key, message));
  }

  async verifyMac(owner: string, handle: KeyHandle, message: Uint8Array, tag: Uint8Array): Promise<boolean> {
    const expected = await this.mac(owner, handle, message);
    return tag instanceof Uint8Array && constantTimeEqual(expected, tag);
  }

  async seal(owner: string, handle: KeyHandle, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const record = this.#record(owner, handle);
    requireKind(record, 'seal', ['session256'] as const);
    return this.#with(record, (key) => aeadSeal(key, plaintext, aad, this.#random));
  }

  async open(owner: string, handle: KeyHandle, sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array | undefined> {
    const record = this.#record(owner, handle);
    requireKind(record, 'open', ['session256'] as const);
    return this.#with(record, (key) => aeadOpen(key, sealed, aad));
  }

  async wrap(owner: string, handle: KeyHandle, wrappingKey: KeyHandle, aad: Uint8Array): Promise<Uint8Array> {
    assertBytes(aad, 'aad');
    const target = this.#record(owner, handle);
    const kek = this.#record(owner, wrappingKey);
    requireKind(kek, 'wrap other keys', ['session256'] as const);
    if (!target.extractable || target.kind === 'secret') throw new TypeError('handle: key is not extractable');
    return this.#with(target, (bytes) => this.#with(kek, (key) => aeadSeal(key, bytes, wrapAad(target.kind, aad), this.#random)));
  }

  async unwrap(owner: string, wrappingKey: KeyHandle, wrapped: Uint8Array, aad: Uint8Array, spec: UnwrapSpec): Promise<KeyHandle | undefined> {
    assertBytes(wrapped, 'wrapped');
    assertBytes(aad, 'aad');
    const kek = this.#record(owner, wrappingKey);
    requireKind(kek, 'unwrap other keys', ['session256'] as const);
    const bytes = this.#with(kek, (key) => aeadOpen(key, wrapped, wrapAad(spec.kind, aad)));
    if (bytes === undefined) return undefined;
    if (bytes.length !== KEY_LENGTH || (spec.kind === 'p256' && !p256.utils.isValidSecretKey(bytes))) {
      wipe(bytes);
      return undefined;
    }
    return this.#put(owner, spec.kind, bytes, spec);
  }

  async destroy(owner: string, handle: KeyHandle): Promise<void> {
    this.#record(owner, handle);
    this.#store.delete(handle);
  }

  /**
   * TEST ONLY: the plaintext bytes behind a handle, with no owner check, so tests can prove that no secret is
   * ever written in any encoding. Deliberately absent from the SecureEnvironment port.
   */
  exportForTest(handle: KeyHandle): Uint8Array {
    const record = this.#store.get(handle);
    if (!record) throw notFound(handle, 'key');
    return this.#unseal(record);
  }

  #record(owner: string, handle: KeyHandle): SealedKeyRecord {
    requireOwner(owner);
    if (typeof handle !== 'string') throw new TypeError('handle must be a string');
    const record = this.#store.get(handle);
    if (!record) throw notFound(handle, 'key');
    if (record.owner !== owner) throw unauthorised(owner, `key ${handle} belongs to another owner`);
    return record;
  }

  #unseal(record: SealedKeyRecord): Uint8Array {
    const bytes = aeadOpen(this.#kek, record.sealed, sealAad(record));
    // Only a modified database or a KEK swapped underneath a running process gets here.
    if (bytes === undefined) throw new Error(`key ${record.handle} failed its integrity check`);
    return bytes;
  }

  #with<T>(record: SealedKeyRecord, use: (bytes: Uint8Array) => T): T {
    const bytes = this.#unseal(record);
    try {
      return use(bytes);
    } finally {
      wipe(bytes);
    }
  }

  /** Seals `bytes` into a new record and wipes them; `knownPublicKey` saves recomputing one just generated. */
  #put(owner: string, kind: KeyKind, bytes: Uint8Array, options: KeyOptions, knownPublicKey?: Uint8Array): KeyHandle {
    try {
      const handle = `key_${toBase64url(this.#random(18))}` as KeyHandle;
      const extractable = kind !== 'secret' && options.extractable === true;
      const meta = { handle, owner, kind, extractable };
      const publicKey =
        kind === 'ed25519' || kind === 'p256'
          ? (knownPublicKey ?? signingPublicKey(kind, bytes))
          : kind === 'x25519'
            ? agreementPublicKey(kind, bytes)
            : undefined;
      this.#store.put({
        ...meta,
        ephemeral: kind === 'secret' || options.ephemeral === true,
        ...(publicKey ? { publicKey } : {}),
        fingerprint:
          publicKey && (kind === 'ed25519' || kind === 'p256' || kind === 'x25519')
            ? publicKeyFingerprint(kind, publicKey)
            : secretKeyFingerprint(bytes),
        sealed: aeadSeal(this.#kek, bytes, sealAad(meta), this.#random),
        createdAt: this.#now().toISOString(),
      });
      return handle;
    } finally {
      wipe(bytes);
    }
  }
}
