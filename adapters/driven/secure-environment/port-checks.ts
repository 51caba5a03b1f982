import { unauthorised, validationError, type CredenceError } from '../../../domain/errors.ts';
import { assertBytes, concatBytes, utf8 } from '../../../domain/crypto/bytes.ts';
import { KeyHandle, type DeriveKeySpec, type KeyKind, type KeyOptions, type KeyUsage } from '../../../domain/ports/secure-environment.ts';

/**
 * The port's argument checks and byte formats, one copy for the embedded and the PKCS#11 Secure Environments (the
 * conformance suite holds both to the same refusals). The seal/wrap AAD labels are a wire format: a box sealed by
 * an HSM-backed Enrolment Function is opened by a device's embedded Secure Environment.
 */
export const KEY_LENGTH = 32;
export const wrapAad = (kind: KeyKind, aad: Uint8Array): Uint8Array => concatBytes(utf8(`credence/se/v1/wrap\0${kind}\0`), aad);
// seal/open and wrap/unwrap share the session256 keys and the AEAD: distinct labels keep open() from ever returning
// the key bytes inside a wrap() output (a caller's AAD cannot imitate the other label: each is a fixed prefix).
export const sealAad = (aad: Uint8Array): Uint8Array => concatBytes(utf8('credence/se/v1/seal\0'), aad);

/** Every kind, by name: a Record so that a kind added to KeyKind and not here fails the type check. */
const KINDS: Record<KeyKind, true> = { psk256: true, ed25519: true, p256: true, x25519: true, session256: true, secret: true };
/**
 * A `kind` argument as an error shows it: a kind the port knows by name, anything else by the rule it breaks and
 * its length (a caller's string is not echoed, a megabyte one included, as for handles).
 */
export const shownKind = (kind: unknown): string =>
  typeof kind === 'string' && Object.hasOwn(KINDS, kind) ? kind : typeof kind === 'string' ? `unknown kind (a string of ${kind.length} characters)` : `unknown kind (${typeof kind})`;

/** What a stored key says of itself: the embedded record or the token object's label. */
interface KeyFacts {
  readonly kind: KeyKind;
  readonly usage?: KeyUsage | undefined;
}

/** The longest owner name: a PKCS#11 label holds it (JSON-escaped) and must read back, so both implementations bound it. */
export const MAX_OWNER_CHARS = 1024;

export const requireOwner = (owner: string): void => {
  if (typeof owner !== 'string' || owner.length === 0) throw new TypeError('owner must be a non-empty string');
  if (owner.length > MAX_OWNER_CHARS) {
    throw validationError([{ path: 'owner', rule: 'max_length', message: `an owner name has at most ${MAX_OWNER_CHARS} characters` }], 'Secure Environment owner');
  }
};

/** The owner allow-list (SER-001): `unauthorised` for an owner this environment does not serve. */
export const requireServedOwner = (owners: ReadonlySet<string> | undefined, owner: string): void => {
  requireOwner(owner);
  if (owners !== undefined && !owners.has(owner)) throw unauthorised(owner, 'this Secure Environment does not serve this owner');
};

/**
 * A handle is one this port could have made (`KeyHandle`), or a caller's mistake: refused as such, by its length
 * only, rather than looked up and echoed in a `not_found` (found in review: a megabyte string came back in the error).
 */
export const requireHandle = (handle: unknown): void => {
  if (typeof handle !== 'string') throw new TypeError('handle must be a string');
  if (!KeyHandle.safeParse(handle).success) {
    throw new TypeError(`handle must be a key handle (key_ and 24 base64url characters); this string has ${handle.length} characters`);
  }
};

/** A key found under `handle` but held by `holder`: refused for `owner` without saying more of it. */
export const requireHeldBy = (owner: string, handle: string, holder: string): void => {
  if (holder !== owner) throw unauthorised(owner, `key ${handle} belongs to another owner`);
};

export const requireKind = <K extends KeyKind>(key: KeyFacts, operation: string, allowed: readonly K[]): K => {
  if (!(allowed as readonly KeyKind[]).includes(key.kind)) throw new TypeError(`handle: a ${key.kind} key cannot ${operation}`);
  return key.kind as K;
};

export const requireUsage = (key: KeyFacts, usage: KeyUsage): void => {
  if (key.usage !== usage) throw new TypeError(`handle: this ${key.kind} key is for ${key.usage ?? 'no usage'}, it cannot ${usage}`);
};

/** One usage per asymmetric key, fixed at generation (issue 11 item 9): a P-256 key never both signs and agrees. */
export const usageFor = (kind: KeyKind, options: KeyOptions): KeyUsage | undefined => {
  const asked = options.usage;
  if (asked !== undefined && asked !== 'sign' && asked !== 'agree') throw new TypeError("options.usage must be 'sign' or 'agree'");
  const usage =
    kind === 'ed25519' ? 'sign' : kind === 'x25519' ? 'agree' : kind === 'p256' ? (asked ?? (options.ephemeral === true ? 'agree' : 'sign')) : undefined;
  if (asked !== undefined && asked !== usage) throw new TypeError(`options.usage: a ${shownKind(kind)} key cannot be for ${asked}`);
  return usage;
};

/**
 * A signing key's private half never leaves a Secure Environment: not generated extractable, not imported by unwrap.
 * The wrap format binds a key's kind but not its usage, so a P-256 signing key wrapped and unwrapped "for agreement"
 * would give one private key both usages (a PKCS#11 token refuses both for its own reasons: the same rule for both).
 */
export const checkPrivateKeyStaysInside = (kind: KeyKind, options: { readonly extractable?: boolean }, path: 'options' | 'spec'): void => {
  if (kind !== 'ed25519' && kind !== 'p256') return;
  if (path === 'spec') {
    throw validationError([{ path: 'spec.kind', rule: 'private_key_import', message: `a ${kind} private key is only ever generated inside the Secure Environment, never unwrapped into it` }], 'key unwrap');
  }
  if (options.extractable === true) {
    throw validationError([{ path: 'options.extractable', rule: 'private_key_not_extractable', message: `a ${kind} private key never leaves the Secure Environment` }], 'key generation');
  }
};

/** deriveKey's arguments, before any key is looked up. */
export const checkDeriveSpec = (spec: DeriveKeySpec): void => {
  if (spec.inputs.length === 0) throw new TypeError('spec.inputs must name at least one key');
  // HKDF output is symmetric key material: never a signing or agreement key (whose private half a peer could know).
  if (spec.kind !== 'psk256' && spec.kind !== 'session256') throw new TypeError(`spec.kind: cannot derive ${shownKind(spec.kind)}`);
  assertBytes(spec.salt, 'spec.salt');
  assertBytes(spec.info, 'spec.info');
  if (spec.extractable === true) {
    // Otherwise agree + deriveKey + wrap under a key the caller knows would export a session key (item 9).
    throw validationError(
      [{ path: 'spec.extractable', rule: 'derived_key_not_extractable', message: 'a derived key never leaves the Secure Environment' }],
      'key derivation',
    );
  }
};

/** macMany's messages: an array of byte arrays, each named by its index when it is not one. */
export const checkMessages = (messages: readonly Uint8Array[]): void => {
  if (!Array.isArray(messages)) throw new TypeError('messages must be an array of byte arrays');
  messages.forEach((message, i) => assertBytes(message, `messages[${i}]`));
};

/** The refusal of a peer public key that is not a point of `group`. */
export const peerKeyRefused = (group: string): CredenceError =>
  validationError([{ path: 'peerPublicKey', rule: 'curve_point', message: `is not an acceptable ${group} public key` }], 'key agreement');
