import { z } from 'zod';
import type { KeyHandle, KeyKind, KeyUsage } from '../../../../domain/ports/secure-environment.ts';
import { MAX_OWNER_CHARS } from '../port-checks.ts';
import { searchObjects } from './object-search.ts';
import { pkcs11js, pkcs11Problem, type Pkcs11, type Pkcs11Handle, type Pkcs11Template } from './module.ts';

/** PKCS#11 v3.0 values pkcs11js 2.1 does not name. */
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;
/** DER OIDs for CKA_EC_PARAMS: id-Ed25519 (RFC 8410) and prime256v1 (RFC 5480). */
export const ED25519_PARAMS = Buffer.from('06032b6570', 'hex');
export const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

/**
 * What a key is, for whom, kept in its CKA_LABEL and fixed there (CKA_MODIFIABLE false, so not even a PIN holder
 * can re-point a key at another owner through the API); parsed with limits on every read (stored data is a
 * boundary). `host` marks a key whose bytes may pass through host memory under `x-derivation=host` (docs/hsm.md).
 */
const LABEL_PREFIX = 'credence/se/1 ';
export const KeyLabel = z.strictObject({
  owner: z.string().min(1).max(MAX_OWNER_CHARS),
  kind: z.enum(['psk256', 'ed25519', 'p256', 'x25519', 'session256', 'secret']),
  usage: z.enum(['sign', 'agree']).optional(),
  extractable: z.boolean(),
  host: z.boolean(),
});
export type KeyLabel = z.infer<typeof KeyLabel> & { readonly kind: KeyKind; readonly usage?: KeyUsage };

export const encodeLabel = (label: KeyLabel): string => `${LABEL_PREFIX}${JSON.stringify(label)}`;
export const decodeLabel = (text: string): KeyLabel | undefined => {
  // JSON writes a character of the owner as at most six (\u0000): any owner the port accepts reads back.
  if (!text.startsWith(LABEL_PREFIX) || text.length > MAX_OWNER_CHARS * 6 + 256) return undefined;
  try {
    const parsed = KeyLabel.safeParse(JSON.parse(text.slice(LABEL_PREFIX.length)));
    // Only as Credence writes it: searches by label (listing, shredding) match the exact text, so a lookup must not
    // take for a key of the owner's an object whose label says the same another way (review 162).
    return parsed.success && encodeLabel(parsed.data) === text ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

/** Every kind with the usage it can carry, as generate, agree, deriveKey and unwrap label them. */
const KINDS: readonly { readonly kind: KeyKind; readonly usage?: KeyUsage; readonly pair: boolean }[] = [
  { kind: 'psk256', pair: false },
  { kind: 'session256', pair: false },
  { kind: 'secret', pair: false },
  { kind: 'x25519', usage: 'agree', pair: false },
  { kind: 'ed25519', usage: 'sign', pair: true },
  { kind: 'p256', usage: 'sign', pair: true },
  { kind: 'p256', usage: 'agree', pair: true },
];

/**
 * Every label a key of `owner` can carry (kind, usage, extractable, host, in that JSON order, as every maker builds
 * it), and whether its kind is a pair: searched for exactly (a token has no prefix search) by listing and shredding.
 */
export const ownerLabels = (owner: string): readonly { readonly label: KeyLabel; readonly pair: boolean }[] =>
  KINDS.flatMap(({ kind, usage, pair }) =>
    [false, true].flatMap((extractable) => [false, true].map((host) => ({ label: { owner, kind, ...(usage ? { usage } : {}), extractable, host }, pair }))),
  );

export interface TokenKey {
  readonly handle: KeyHandle;
  readonly label: KeyLabel;
  readonly ephemeral: boolean;
  /** The private or secret key object. */
  readonly key: Pkcs11Handle;
  /** The public key object of a key pair generated in the token. */
  readonly publicKey?: Pkcs11Handle;
}

/** Attributes every Credence object shares: found by CKA_ID, described by CKA_LABEL (neither ever changed: `fixed`). */
export const identity = (handle: KeyHandle, label: KeyLabel, ephemeral: boolean): Pkcs11Template => [
  { type: pkcs11js.CKA_ID, value: Buffer.from(handle, 'utf8') },
  { type: pkcs11js.CKA_LABEL, value: encodeLabel(label) },
  { type: pkcs11js.CKA_TOKEN, value: !ephemeral },
];

/**
 * The template with CKA_COPYABLE and CKA_MODIFIABLE false appended, last: SoftHSM2 2.6 applies a C_UnwrapKey/C_DeriveKey template
 * in order and refuses every attribute after CKA_MODIFIABLE false (CKR_ATTRIBUTE_READ_ONLY).
 */
export const fixed = (template: Pkcs11Template): Pkcs11Template => [
  ...template,
  // No copy either: C_CopyObject may give the copy a new CKA_LABEL on tokens that allow it (v2.40 §5.7).
  { type: pkcs11js.CKA_COPYABLE, value: false },
  { type: pkcs11js.CKA_MODIFIABLE, value: false },
];

/** A private/secret object: never readable in clear; extractable (by C_WrapKey) only when asked. */
/**
 * Usage flags no Credence key pair needs, set false rather than left to the token (SoftHSM2 defaults most of them
 * to true): a key that may do only what it is for, whoever holds the PIN. Keys made before (review 83) still carry
 * the defaults and are still served (docs/hsm.md, "Usage flags").
 */
export const UNUSED_BY_PRIVATE_KEYS: Pkcs11Template = [
  { type: pkcs11js.CKA_DECRYPT, value: false },
  { type: pkcs11js.CKA_UNWRAP, value: false },
  { type: pkcs11js.CKA_SIGN_RECOVER, value: false },
];
export const UNUSED_BY_PUBLIC_KEYS: Pkcs11Template = [
  { type: pkcs11js.CKA_ENCRYPT, value: false },
  { type: pkcs11js.CKA_WRAP, value: false },
  { type: pkcs11js.CKA_VERIFY_RECOVER, value: false },
  { type: pkcs11js.CKA_DERIVE, value: false },
];

export const secretAttributes = (extractable: boolean): Pkcs11Template => [
  { type: pkcs11js.CKA_PRIVATE, value: true },
  { type: pkcs11js.CKA_SENSITIVE, value: true },
  { type: pkcs11js.CKA_EXTRACTABLE, value: extractable },
];

/** A 256-bit generic secret that can HMAC (CKM_SHA256_HMAC) and nothing else in the token. */
export const genericSecretTemplate = (handle: KeyHandle, label: KeyLabel, ephemeral: boolean, extractable: boolean): Pkcs11Template => [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
  { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
  ...identity(handle, label, ephemeral),
  ...secretAttributes(extractable),
  { type: pkcs11js.CKA_SIGN, value: true },
  { type: pkcs11js.CKA_VERIFY, value: true },
  { type: pkcs11js.CKA_DERIVE, value: false },
  { type: pkcs11js.CKA_ENCRYPT, value: false },
  { type: pkcs11js.CKA_DECRYPT, value: false },
  { type: pkcs11js.CKA_WRAP, value: false },
  { type: pkcs11js.CKA_UNWRAP, value: false },
];

const find = (module: Pkcs11, session: Pkcs11Handle, template: Pkcs11Template): Pkcs11Handle[] => {
  const found: Pkcs11Handle[] = [];
  searchObjects(module, session, template, 4, (batch) => found.push(...batch), false);
  return found;
};

/**
 * Session objects a re-initialisation of the module would destroy and nothing could make again: ephemeral key pairs
 * (their private half) and generic secrets (ECDH secrets, ephemeral host-held keys). Not the host transfer key (AES),
 * which each new session makes afresh. PKCS#11 shows an application's session objects on a token to all its
 * sessions there, so this sees every Secure Environment's of this process on the token.
 */
const SESSION_OBJECTS: readonly Pkcs11Template[] = [
  [
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
  ],
  [
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
  ],
];
export const holdsSessionObjects = (module: Pkcs11, session: Pkcs11Handle): boolean => SESSION_OBJECTS.some((template) => find(module, session, template).length > 0);

/** The length of the bare public point of each kind whose public key a token holds. */
const POINT_LENGTH = { ed25519: 32, x25519: 32, p256: 65 } as const satisfies Partial<Record<KeyKind, number>>;
export type EcPointKind = keyof typeof POINT_LENGTH;

/**
 * The raw point in a CKA_EC_POINT value: a DER OCTET STRING (PKCS#11 v2.40 §2.3.3 / v3.0 §2.3.5), or the bare point
 * some tokens return instead. Told apart by length alone: a bare P-256 point (04‖x‖y) whose x starts with 0x3f looks
 * like an OCTET STRING header too (1 point in 256; an Ed25519 key 1 in 65,536), so the bytes cannot decide.
 * Anything else is a `token`/`ec_point` error naming the lengths.
 */
const ecPointFromAttribute = (kind: EcPointKind, value: Uint8Array): Uint8Array => {
  const length = POINT_LENGTH[kind];
  // Short-form DER: every point here is under 128 bytes.
  const point =
    value.length === length ? value : value.length === length + 2 && value[0] === 0x04 && value[1] === length ? value.subarray(2) : undefined;
  // SEC 1 §2.3.3: an uncompressed point (the only form CKM_EC_KEY_PAIR_GEN is asked for) starts with 0x04.
  if (point === undefined || (kind === 'p256' && point[0] !== 0x04)) {
    throw pkcs11Problem(
      'token',
      'ec_point',
      `the token's CKA_EC_POINT for a ${kind} key (${value.length} bytes) is neither its ${length}-byte ${kind === 'p256' ? 'uncompressed ' : ''}point nor a DER OCTET STRING of it`,
    );
  }
  return new Uint8Array(point);
};

export const ecPoint = (module: Pkcs11, session: Pkcs11Handle, publicKey: Pkcs11Handle, kind: EcPointKind): Uint8Array => {
  const [attribute] = module.C_GetAttributeValue(session, publicKey, [{ type: pkcs11js.CKA_EC_POINT }]);
  return ecPointFromAttribute(kind, attribute?.value as Buffer);
};
