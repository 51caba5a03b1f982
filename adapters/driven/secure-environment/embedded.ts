import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { z } from 'zod';
import { keyNotFound, validationError } from '../../../domain/errors.ts';
import { aeadOpen, aeadSeal } from '../../../domain/crypto/aead.ts';
import { agreementPublicKey, sharedSecret, type AgreementGroup } from '../../../domain/crypto/agreement.ts';
import { assertBytes, concatBytes, constantTimeEqual, wipe } from '../../../domain/crypto/bytes.ts';
import type { Clock } from '../../../domain/ports/clock.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { publicKeyFingerprint, secretKeyFingerprint } from '../../../domain/crypto/fingerprint.ts';
import { hkdfSha256, hmacSha256, hmacSha256Many } from '../../../domain/crypto/hash.ts';
import { generateSigningKey, sign, signingPublicKey } from '../../../domain/crypto/signatures.ts';
import { toBase64url } from '../../../domain/crypto/base64url.ts';
import { assertJsonWithin } from '../../../domain/json-limits.ts';
import { KEYS_IN_DATA_FOLDER } from './embedded-brand.ts';
import { KekSource, loadKek, MAX_PATH_CHARS } from './kek.ts';
import { assertKeyFilesOwned, type SealedKeyRecord } from './key-store.ts';
import { KeyVault } from './key-vault.ts';
import { checkListRequest, pageOf } from './key-listing.ts';
import {
  checkDeriveSpec,
  checkMessages,
  KEY_LENGTH,
  peerKeyRefused,
  requireHandle,
  requireHeldBy,
  requireKind,
  requireServedOwner,
  requireUsage,
  sealAad,
  usageFor,
  checkPrivateKeyStaysInside,
  MAX_OWNER_CHARS,
  shownKind,
  wrapAad,
} from './port-checks.ts';
import { bindOwner } from '../../../domain/ports/owner-view.ts';
import type {
  DeriveKeySpec,
  GeneratedKeyKind,
  KeyDescription,
  KeyHandle,
  KeyKind,
  KeyListPage,
  KeyListRequest,
  KeyOptions,
  OwnedSecureEnvironment,
  OwnerScopedSecureEnvironment,
  UnwrapSpec,
} from '../../../domain/ports/secure-environment.ts';

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

/**
 * A KEK file is made only for a key database that holds nothing yet: beside one that holds keys, a missing KEK is
 * lost, and a new one would open none of them (and be kept, the folder then holding a KEK of no use).
 */
const assertKekNotLost = (kek: KekSource, database: string): void => {
  if (kek.source !== 'file' || database === ':memory:') return;
  // The database first: an open writes the KEK file before the database, so a process opening a new folder while
  // another sets it up, finding the database written, then finds the KEK too (the other order could miss both).
  if ((statSync(database, { throwIfNoEntry: false })?.size ?? 0) === 0 || existsSync(kek.path)) return;
  // A data folder's own KEK missing: the folder may have been set up with its KEK outside it (CREDENCE_KEK_FILE) and
  // opened without the setting this time (review 49 item 3); restoring a backup is then the wrong advice.
  const inFolder = kek.path === join(dirname(database), IN_FOLDER_KEK_FILE);
  const outside = inFolder ? `, or, if this folder's KEK is kept outside it, set CREDENCE_KEK_FILE to it` : '';
  throw validationError(
    [{ path: 'kek', rule: 'kek_present', message: `the KEK file ${kek.path} is missing beside the key database ${database}: restore it from a backup${outside} (a new one would open none of its keys)` }],
    'Secure Environment configuration',
  );
};

/** The KEK file of a data folder's embedded Secure Environment when none is named outside it. */
const IN_FOLDER_KEK_FILE = 'secure-environment.kek';

/**
 * The default layout in a data folder: the key database, its wrapping keys and its generated 0600 key file, in the
 * folder unless `kekFile` names one outside it (CREDENCE_KEK_FILE: then a copy of the folder holds no KEK).
 */
export const secureEnvironmentConfigForDataDir = (dataDir: string, kekFile?: string): EmbeddedSecureEnvironmentConfig => ({
  database: join(dataDir, 'secure-environment.sqlite'),
  wrappingKeys: join(dataDir, 'secure-environment.wrapping-keys'),
  kek: { source: 'file', path: kekFile ?? join(dataDir, IN_FOLDER_KEK_FILE) },
});

export const wrappingKeysPath = (c: EmbeddedSecureEnvironmentConfig): string =>
  c.wrappingKeys ?? (c.database === ':memory:' ? ':memory:' : `${c.database}.wrapping-keys`);

export interface EmbeddedSecureEnvironmentDeps {
  readonly now: Clock['now'];
  readonly random: RandomSource;
}

/**
 * The embedded Secure Environment. At rest (key-vault.ts) every key is sealed under its own wrapping key, bound to
 * every stored field (handle, owner, kind, usage, extractability, public key, fingerprint, creation time); the
 * wrapping keys are sealed under the KEK in a separate file and destroy() erases the key's one. Plaintext key
 * bytes exist only for the duration of one operation and are wiped afterwards. No method returns key bytes.
 */
export class EmbeddedSecureEnvironment implements OwnerScopedSecureEnvironment {
  readonly #vault: KeyVault;
  readonly #now: Clock['now'];
  readonly #random: RandomSource;
  readonly #owners: ReadonlySet<string> | undefined;
  /** Read by openCredence: with this one, a program may leave the log key a file in the data folder (embedded-brand.ts). */
  readonly [KEYS_IN_DATA_FOLDER] = true;

  /** Only open() and a test-only subclass construct one; the vault never leaves the instance. */
  protected constructor(vault: KeyVault, deps: EmbeddedSecureEnvironmentDeps, owners?: readonly string[]) {
    this.#vault = vault;
    this.#now = deps.now;
    this.#random = deps.random;
    this.#owners = owners ? new Set(owners) : undefined;
  }

  /**
   * Parses the configuration (beyond the JSON limits, a `validation` error naming the limit: SER-001); a KEK that
   * does not open this database's check value, or a wrapping-key file missing or of another database, is a
   * `validation` error.
   */
  static open(config: unknown, deps: EmbeddedSecureEnvironmentDeps): EmbeddedSecureEnvironment {
    const { vault, owners } = EmbeddedSecureEnvironment.openVault(config, deps);
    return new EmbeddedSecureEnvironment(vault, deps, owners);
  }

  /** Parses the configuration and opens the keys at rest: for open() and subclasses' own open(). */
  protected static openVault(config: unknown, deps: EmbeddedSecureEnvironmentDeps): { vault: KeyVault; owners?: readonly string[] } {
    assertJsonWithin(config, 'Secure Environment configuration');
    const parsed = EmbeddedSecureEnvironmentConfig.safeParse(config);
    if (!parsed.success) {
      throw validationError(
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), rule: i.code, message: i.message })),
        'Secure Environment configuration',
      );
    }
    assertKekNotLost(parsed.data.kek, parsed.data.database);
    // Before the KEK, which may be created: a refusal for another account's key file leaves nothing new behind.
    assertKeyFilesOwned(parsed.data.database, wrappingKeysPath(parsed.data));
    const kek = loadKek(parsed.data.kek, deps.random);
    const vault = KeyVault.open(parsed.data.database, wrappingKeysPath(parsed.data), kek, deps.random);
    return { vault, ...(parsed.data.owners ? { owners: parsed.data.owners } : {}) };
  }

  close(): void {
    this.#vault.close();
  }

  /** A frozen view acting as `owner` only (issue 11 item 9); `unauthorised` for an owner this one does not serve. */
  forOwner(owner: string): OwnedSecureEnvironment {
    this.#requireOwner(owner);
    return bindOwner(this, owner);
  }

  async generate(owner: string, kind: GeneratedKeyKind, options: KeyOptions = {}): Promise<KeyHandle> {
    this.#requireOwner(owner);
    usageFor(kind, options);
    checkPrivateKeyStaysInside(kind, options, 'options');
    if (kind === 'psk256') return this.#put(owner, kind, this.#random(KEY_LENGTH).slice(), options);
    if (kind === 'x25519') return this.#put(owner, kind, this.#random(KEY_LENGTH).slice(), options);
    if (kind === 'ed25519' || kind === 'p256') {
      const { secretKey, publicKey } = generateSigningKey(kind, this.#random);
      return this.#put(owner, kind, secretKey, options, publicKey);
    }
    throw new TypeError(`kind: cannot generate ${shownKind(kind)}`);
  }

  /** Opens the seal first, so altered metadata (a substituted public key) is refused, never described. */
  async describe(owner: string, handle: KeyHandle): Promise<KeyDescription> {
    const record = this.#record(owner, handle);
    this.#with(record, () => undefined);
    return {
      handle,
      kind: record.kind,
      fingerprint: record.fingerprint,
      ...(record.publicKey ? { publicKey: record.publicKey.slice() } : {}),
      ...(record.usage ? { usage: record.usage } : {}),
      ephemeral: record.ephemeral,
      extractable: record.extractable,
    };
  }

  async sign(owner: string, handle: KeyHandle, message: Uint8Array): Promise<Uint8Array> {
    assertBytes(message, 'message');
    const record = this.#record(owner, handle);
    const kind = requireKind(record, 'sign', ['ed25519', 'p256'] as const);
    requireUsage(record, 'sign');
    return this.#with(record, (secretKey) => sign(kind, secretKey, message));
  }

  async agree(owner: string, handle: KeyHandle, peerPublicKey: Uint8Array): Promise<KeyHandle> {
    assertBytes(peerPublicKey, 'peerPublicKey');
    const record = this.#record(owner, handle);
    const group: AgreementGroup = requireKind(record, 'agree', ['p256', 'x25519'] as const);
    requireUsage(record, 'agree');
    const secret = this.#with(record, (secretKey) => sharedSecret(group, secretKey, peerPublicKey));
    if (secret === undefined) throw peerKeyRefused(group);
    return this.#put(owner, 'secret', secret, { ephemeral: true });
  }

  async deriveKey(owner: string, spec: DeriveKeySpec): Promise<KeyHandle> {
    checkDeriveSpec(spec);
    const records = spec.inputs.map((handle) => this.#record(owner, handle));
    records.forEach((r) => requireKind(r, 'be derived from', ['secret', 'psk256', 'session256'] as const));
    const parts: Uint8Array[] = [];
    let ikm: Uint8Array | undefined;
    try {
      for (const r of records) parts.push(this.#vault.unseal(r));
      ikm = concatBytes(...parts);
      return this.#put(owner, spec.kind, hkdfSha256(ikm, spec.salt, spec.info, KEY_LENGTH), { ...spec, extractable: false });
    } finally {
      // Every part exported so far, a later input's refusal included.
      wipe(ikm, ...parts);
    }
  }

  async mac(owner: string, handle: KeyHandle, message: Uint8Array): Promise<Uint8Array> {
    assertBytes(message, 'message');
    const record = this.#record(owner, handle);
    requireKind(record, 'mac', ['psk256', 'session256'] as const);
    return this.#with(record, (key) => hmacSha256(key, message));
  }

  async macMany(owner: string, handle: KeyHandle, messages: readonly Uint8Array[]): Promise<Uint8Array[]> {
    checkMessages(messages);
    const record = this.#record(owner, handle);
    requireKind(record, 'mac', ['psk256', 'session256'] as const);
    return this.#with(record, (key) => hmacSha256Many(key, messages));
  }

  async verifyMac(owner: string, handle: KeyHandle, message: Uint8Array, tag: Uint8Array): Promise<boolean> {
    const expected = await this.mac(owner, handle, message);
    try {
      return tag instanceof Uint8Array && constantTimeEqual(expected, tag);
    } finally {
      // The tag a message should carry is as good as the key for that message: it leaves no copy behind.
      wipe(expected);
    }
  }

  async seal(owner: string, handle: KeyHandle, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const record = this.#record(owner, handle);
    requireKind(record, 'seal', ['session256'] as const);
    return this.#with(record, (key) => aeadSeal(key, plaintext, sealAad(assertBytes(aad, 'aad')), this.#random));
  }

  async open(owner: string, handle: KeyHandle, sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array | undefined> {
    const record = this.#record(owner, handle);
    requireKind(record, 'open', ['session256'] as const);
    return this.#with(record, (key) => aeadOpen(key, sealed, sealAad(assertBytes(aad, 'aad'))));
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
    usageFor(spec.kind, spec);
    checkPrivateKeyStaysInside(spec.kind, spec, 'spec');
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

  /** Erases the key and its wrapping key together: no copy of the key database opens it afterwards. */
  async destroy(owner: string, handle: KeyHandle): Promise<void> {
    this.#record(owner, handle);
    this.#vault.delete(handle);
  }

  /** One page of the owner's keys from the key database and this process's ephemeral ones (key-listing.ts). */
  async listKeys(owner: string, request?: KeyListRequest): Promise<KeyListPage> {
    this.#requireOwner(owner);
    const { after, limit } = checkListRequest(request);
    // '' sorts before every handle; one more than the page tells whether another follows.
    return pageOf(this.#vault.owned(owner, after ?? '', limit + 1), limit);
  }

  #requireOwner(owner: string): void {
    requireServedOwner(this.#owners, owner);
  }

  /** The record, its owner checked against the stored (not yet authenticated) owner; #with authenticates it. */
  #record(owner: string, handle: KeyHandle): SealedKeyRecord {
    this.#requireOwner(owner);
    requireHandle(handle);
    const record = this.#vault.record(handle);
    if (!record) throw keyNotFound(handle);
    requireHeldBy(owner, handle, record.owner);
    return record;
  }

  #with<T>(record: SealedKeyRecord, use: (bytes: Uint8Array) => T): T {
    const bytes = this.#vault.unseal(record);
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
      const usage = usageFor(kind, options);
      const publicKey =
        kind === 'ed25519' || kind === 'p256'
          ? (knownPublicKey ?? signingPublicKey(kind, bytes))
          : kind === 'x25519'
            ? agreementPublicKey(kind, bytes)
            : undefined;
      this.#vault.put(
        {
          handle,
          owner,
          kind,
          ...(usage ? { usage } : {}),
          extractable: kind !== 'secret' && options.extractable === true,
          ephemeral: kind === 'secret' || options.ephemeral === true,
          ...(publicKey ? { publicKey } : {}),
          fingerprint:
            publicKey && (kind === 'ed25519' || kind === 'p256' || kind === 'x25519')
              ? publicKeyFingerprint(kind, publicKey)
              : secretKeyFingerprint(bytes),
          createdAt: this.#now().toISOString(),
        },
        bytes,
      );
      return handle;
    } finally {
      wipe(bytes);
    }
  }
}
