import { p256 } from '@noble/curves/nist.js';
import { keyNotFound } from '../../../domain/errors.ts';
import { aeadOpen, aeadSeal } from '../../../domain/crypto/aead.ts';
import { agreementPublicKey, sharedSecret, type AgreementGroup } from '../../../domain/crypto/agreement.ts';
import { assertBytes, concatBytes, constantTimeEqual, wipe } from '../../../domain/crypto/bytes.ts';
import type { Clock } from '../../../domain/ports/clock.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import { publicKeyFingerprint, secretKeyFingerprint } from '../../../domain/crypto/fingerprint.ts';
import { hkdfSha256, hmacSha256, hmacSha256Many } from '../../../domain/crypto/hash.ts';
import { generateSigningKey, sign, signingPublicKey } from '../../../domain/crypto/signatures.ts';
import { toBase64url } from '../../../domain/crypto/base64url.ts';
import { KEYS_IN_DATA_FOLDER } from './embedded-brand.ts';
import type { SealedKeyRecord } from './key-store.ts';
import type { KeyVault } from './key-vault.ts';
import { checkListRequest, pageOf } from './key-listing.ts';
import { openVault } from './open-vault.ts';
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
  shownKind,
  wrapAad,
} from './port-checks.ts';
import { bindOwner } from '../../../domain/ports/owner-view.ts';
import {
  hostUseOf,
  type DeriveKeySpec,
  type GeneratedKeyKind,
  type GenerateOptions,
  type KeyDescription,
  type KeyHandle,
  type KeyKind,
  type KeyListPage,
  type KeyListRequest,
  type KeyOptions,
  type OwnedSecureEnvironment,
  type OwnerScopedSecureEnvironment,
  type UnwrapSpec,
} from '../../../domain/ports/secure-environment.ts';

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

  /**
   * What its opening found the operator must put right, without refusing it (a KEK rotation whose new KEK could not
   * replace the KEK file: kek-next-file.ts); the service says it at warn.
   */
  readonly openingWarning: string | undefined;

  /** Only open() and a test-only subclass construct one; the vault never leaves the instance. */
  protected constructor(vault: KeyVault, deps: EmbeddedSecureEnvironmentDeps, owners?: readonly string[], openingWarning?: string) {
    this.openingWarning = openingWarning;
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
    const { vault, owners, warning } = EmbeddedSecureEnvironment.openVault(config, deps);
    return new EmbeddedSecureEnvironment(vault, deps, owners, warning);
  }

  /** Parses the configuration and opens the keys at rest (open-vault.ts): for open() and subclasses' own open(). */
  protected static openVault(config: unknown, deps: EmbeddedSecureEnvironmentDeps): { vault: KeyVault; owners?: readonly string[]; warning?: string } {
    return openVault(config, deps.random);
  }

  close(): void {
    this.#vault.close();
  }

  /** A frozen view acting as `owner` only (issue 11 item 9); `unauthorised` for an owner this one does not serve. */
  forOwner(owner: string): OwnedSecureEnvironment {
    this.#requireOwner(owner);
    return bindOwner(this, owner);
  }

  async generate(owner: string, kind: GeneratedKeyKind, options: GenerateOptions = {}): Promise<KeyHandle> {
    this.#requireOwner(owner);
    usageFor(kind, options);
    // Checked as every Secure Environment checks it, and first as the PKCS#11 one does; nothing more to do here: every
    // key is used in this process, and one not extractable never leaves it.
    hostUseOf(kind, options);
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
    this.#vault.delete(handle, this.#now().toISOString());
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
