import { z } from 'zod';
import { validationError } from '../errors.ts';

/**
 * The Secure Environment port (seed 004, "Guidelines for establishing provisioning trust requirements"): key
 * material lives inside it and callers get opaque handles, never key bytes. Keys leave it only wrapped under
 * another key it holds (wrap/unwrap), so a PSK can be delivered encrypted and never in plaintext.
 *
 * Every call names the calling owner (the node, CSE, AE or function on whose behalf it runs); a handle is usable
 * only by its owner, otherwise the call fails with a typed `unauthorised` error. Only wiring code (the composition
 * root, a device for its own environment, test fixtures) names owners: it makes one OwnedSecureEnvironment per
 * owner (`ownerView` in owner-view.ts, or the implementation's `forOwner`) and components receive that view, so
 * none of them can name another owner (issue 11 item 9). A destroyed or unknown handle
 * fails with `not_found`. Misusing a key (signing with a PSK, a 3-byte nonce) is a programming mistake: plain
 * errors naming the argument.
 *
 * Deliberately narrow so a PKCS#11 / secure-element implementation can follow (SER-023): each method maps onto
 * C_GenerateKey(Pair), C_GetAttributeValue, C_Sign, C_DeriveKey (ECDH1_DERIVE, HKDF_DERIVE), C_Encrypt/Decrypt,
 * C_WrapKey/C_UnwrapKey, C_DestroyObject; `ephemeral` is a session object (CKA_TOKEN false), `extractable` is
 * CKA_EXTRACTABLE. Signature verification needs no secret and is a pure function (adapters/crypto).
 */

export const KeyHandle = z.string().max(28).regex(/^key_[A-Za-z0-9_-]{24}$/).brand<'KeyHandle'>();
export type KeyHandle = z.infer<typeof KeyHandle>;

/** Kinds a caller can generate. psk256 = 256-bit pre-shared key; x25519 = agreement-only key. */
export type GeneratedKeyKind = 'psk256' | 'ed25519' | 'p256' | 'x25519';
/** Kinds that only come out of deriveKey/agree: a 256-bit symmetric key, and a raw agreement secret. */
export type KeyKind = GeneratedKeyKind | 'session256' | 'secret';
/** What a symmetric key can be derived or unwrapped as. */
export type SymmetricKeyKind = 'psk256' | 'session256';

/** What an asymmetric key is for, fixed when it is generated or unwrapped (CKA_SIGN or CKA_DERIVE, never both). */
export type KeyUsage = 'sign' | 'agree';

/**
 * What each kind may do:
 * - ed25519: sign. x25519: agree. p256: sign (ECDSA SHA-256, low-S) or agree (ECDH), whichever its usage says.
 * - psk256: mac, deriveKey input, wrapped when extractable.
 * - session256: seal/open, mac, deriveKey input, wrapping key for wrap/unwrap.
 * - secret: deriveKey input only (raw ECDH output, always ephemeral).
 */
export interface KeyOptions {
  /** Kept in memory only, never written to storage; gone on restart (default false). */
  readonly ephemeral?: boolean;
  /**
   * May leave the Secure Environment wrapped under another key (default false). Refused (`validation`) for
   * deriveKey: a derived key never leaves, so agree + deriveKey cannot export a session key.
   */
  readonly extractable?: boolean;
  /**
   * Asymmetric kinds only: ed25519 is always 'sign', x25519 always 'agree'; p256 defaults to 'agree' when
   * ephemeral and 'sign' otherwise. Every later call is checked against it; symmetric kinds refuse the option.
   */
  readonly usage?: KeyUsage;
}

/** What `generate` takes: the options of every new key, and where a psk256 may be used. */
export interface GenerateOptions extends KeyOptions {
  /**
   * psk256 only (other kinds refuse the option). false: the key is only ever used for mac, macMany and verifyMac, so
   * its bytes never leave the Secure Environment, not even into host memory where an implementation runs some
   * operations there (PKCS#11 under x-derivation=host, docs/hsm.md: the key is then CKA_EXTRACTABLE false, and that
   * implementation refuses it as a deriveKey input). Not extractable either (`validation` when asked both). For a key
   * whose whole use is a keyed PRF in the token: the pseudonym PRF key (SER-025, review 230). Default true.
   */
  readonly hostUse?: boolean;
}

/**
 * `options.hostUse` checked, and what it says (default true): one rule for every implementation, so the conformance
 * suites hold them to the same refusals.
 */
export const hostUseOf = (kind: GeneratedKeyKind, options: GenerateOptions): boolean => {
  const asked: unknown = options.hostUse;
  if (asked === undefined) return true;
  if (typeof asked !== 'boolean') throw new TypeError('options.hostUse must be a boolean');
  if (kind !== 'psk256') throw new TypeError('options.hostUse: only a psk256 key takes it');
  if (!asked && options.extractable === true) {
    throw validationError(
      [{ path: 'options.hostUse', rule: 'host_use_not_extractable', message: 'a key that never leaves the Secure Environment cannot be extractable' }],
      'key generation',
    );
  }
  return asked;
};

/**
 * What `keepInside` found: `already`, the key could not leave the Secure Environment; `now`, it could and no longer
 * can (copies taken before may exist); `refused`, it can and the Secure Environment would not change that (a PKCS#11
 * token refusing C_SetAttributeValue, `returnValue` its CKR_*).
 */
export type KeptInside = { readonly kept: 'already' | 'now' } | { readonly kept: 'refused'; readonly returnValue: string };

export interface KeyDescription {
  readonly handle: KeyHandle;
  readonly kind: KeyKind;
  /** sha256:<hex>; public keys: of the SubjectPublicKeyInfo; secret keys: keyed, labelled (adapters/crypto). */
  readonly fingerprint: string;
  /** Ed25519 32 bytes; P-256 65-byte uncompressed point; X25519 32 bytes. Absent for symmetric kinds. */
  readonly publicKey?: Uint8Array;
  /** Asymmetric kinds: what the key may do. Absent for symmetric kinds. */
  readonly usage?: KeyUsage;
  readonly ephemeral: boolean;
  readonly extractable: boolean;
}

export interface DeriveKeySpec extends KeyOptions {
  /** Concatenated (in order) as HKDF-SHA256 input keying material: kinds secret, psk256 or session256. */
  readonly inputs: readonly KeyHandle[];
  readonly salt: Uint8Array;
  readonly info: Uint8Array;
  readonly kind: SymmetricKeyKind;
}

export interface UnwrapSpec extends KeyOptions {
  readonly kind: GeneratedKeyKind | 'session256';
}

/** One key an owner holds, as listKeys shows it: never its bytes, public key or fingerprint. */
export interface ListedKey {
  readonly handle: KeyHandle;
  readonly kind: KeyKind;
  /** Asymmetric kinds: what the key may do. */
  readonly usage?: KeyUsage;
  readonly ephemeral: boolean;
  /** ISO 8601, when the implementation records one (the embedded one does; a PKCS#11 token does not). */
  readonly createdAt?: string;
}

/** The longest page listKeys answers, and the one it answers when asked for none. */
export const MAX_LISTED_KEYS = 1000;
export const DEFAULT_LISTED_KEYS = 100;

export interface KeyListRequest {
  /** Only keys whose handle sorts after this one (the previous page's `next`). */
  readonly after?: KeyHandle;
  /** 1..MAX_LISTED_KEYS, default DEFAULT_LISTED_KEYS. */
  readonly limit?: number;
}

export interface KeyListPage {
  /** In ascending handle order. */
  readonly keys: readonly ListedKey[];
  /** Present when more keys may follow: pass it as `after` for the next page. */
  readonly next?: KeyHandle;
}

export interface SecureEnvironment {
  generate(owner: string, kind: GeneratedKeyKind, options?: GenerateOptions): Promise<KeyHandle>;
  /**
   * Makes the key never leave the Secure Environment from now on, where an earlier version made it able to (review
   * 230: a pseudonym PRF key made CKA_EXTRACTABLE under PKCS#11 x-derivation=host). One way only (PKCS#11 lets
   * CKA_EXTRACTABLE go from true to false, never back); the key's uses stay as they were. Optional: an implementation
   * that never made a key able to leave it unasked (the embedded one) leaves it out.
   */
  keepInside?(owner: string, handle: KeyHandle): Promise<KeptInside>;
  describe(owner: string, handle: KeyHandle): Promise<KeyDescription>;
  sign(owner: string, handle: KeyHandle, message: Uint8Array): Promise<Uint8Array>;
  /** ECDH with our p256/x25519 key; the shared secret stays inside as an ephemeral `secret` handle. */
  agree(owner: string, handle: KeyHandle, peerPublicKey: Uint8Array): Promise<KeyHandle>;
  /** HKDF-SHA256 (RFC 5869) over the inputs' bytes, inside the Secure Environment. */
  deriveKey(owner: string, spec: DeriveKeySpec): Promise<KeyHandle>;
  /** HMAC-SHA256 tag (32 bytes). */
  mac(owner: string, handle: KeyHandle, message: Uint8Array): Promise<Uint8Array>;
  /**
   * HMAC-SHA256 tags (32 bytes each, in order) of many messages under one key, in one call: the key is opened
   * once, not once per message (bulk PRF work: a pseudonym rotation round over a whole fleet). Optional: an
   * implementation without it is used through `mac`, one message at a time.
   */
  macMany?(owner: string, handle: KeyHandle, messages: readonly Uint8Array[]): Promise<Uint8Array[]>;
  /** Constant-time check of an HMAC-SHA256 tag; false when it does not match. */
  verifyMac(owner: string, handle: KeyHandle, message: Uint8Array, tag: Uint8Array): Promise<boolean>;
  /** AEAD (XChaCha20-Poly1305) with a session256 key; returns nonce || ciphertext || tag. */
  seal(owner: string, handle: KeyHandle, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Undefined when the box does not open (altered, other key, other AAD). */
  open(owner: string, handle: KeyHandle, sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array | undefined>;
  /** The extractable key `handle`, encrypted under the session256 key `wrappingKey`, bound to its kind and `aad`. */
  wrap(owner: string, handle: KeyHandle, wrappingKey: KeyHandle, aad: Uint8Array): Promise<Uint8Array>;
  /** Imports a wrapped key as a new handle of `owner`; undefined when it does not open under `wrappingKey`. */
  unwrap(
    owner: string,
    wrappingKey: KeyHandle,
    wrapped: Uint8Array,
    aad: Uint8Array,
    spec: UnwrapSpec,
  ): Promise<KeyHandle | undefined>;
  /** Crypto-shredding: the key is erased; any later use of the handle fails with `not_found`. */
  destroy(owner: string, handle: KeyHandle): Promise<void>;
  /**
   * One page of the keys `owner` holds, ephemeral ones of this process included, destroyed ones never (an
   * operator's report of keys no record names). Paged by a handle cursor rather than an open iterator: a page
   * holds no session, search or transaction between calls (a PKCS#11 session has one search at a time), each key
   * is listed at most once whatever is generated or destroyed between pages. What a page costs is the
   * implementation's: the embedded one reads about `limit` rows (its index is by owner and handle; a damaged row it
   * passes over costs one more); a PKCS#11 token has no order to resume from, so each page reads every key of the
   * owner (its labels searched, an attribute read per key object), O(owner's keys) whatever `limit`: paging through
   * n keys reads about n² / `limit` objects.
   */
  listKeys(owner: string, request?: KeyListRequest): Promise<KeyListPage>;
}

/** A SecureEnvironment method with its leading `owner` parameter bound. */
type BoundToOwner<F> = F extends (owner: string, ...rest: infer A) => infer R ? (...rest: A) => R : never;

/**
 * One owner's view of a Secure Environment: every method of the port with the owner already bound, so whoever
 * holds it can act as that owner and no other. Frozen; the owner cannot be changed. Hand components a view
 * instead of the whole environment and a caller-supplied owner string stops being the access control.
 */
export type OwnedSecureEnvironment = { readonly owner: string } & {
  readonly [M in keyof SecureEnvironment]: BoundToOwner<SecureEnvironment[M]>;
};

/** A Secure Environment that hands out owner-scoped views (the preferred way to give a component its keys). */
export interface OwnerScopedSecureEnvironment extends SecureEnvironment {
  /** The view for `owner`; `unauthorised` when this environment does not serve that owner. */
  forOwner(owner: string): OwnedSecureEnvironment;
}
