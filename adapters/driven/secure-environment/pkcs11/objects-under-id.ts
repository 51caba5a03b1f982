import type * as Pkcs11js from 'pkcs11js';
import type { KeyHandle, KeyKind } from '../../../../domain/ports/secure-environment.ts';
import { ckr, pkcs11js, pkcs11Unavailable, type Pkcs11, type Pkcs11Handle } from './module.ts';
import { searchObjects } from './object-search.ts';
import { decodeLabel, encodeLabel, ownerLabels, type KeyLabel, type TokenKey } from './token-objects.ts';

/** PKCS#11 v3.0 §2.3.8, which pkcs11js 2.1 does not name. */
const CKK_EC_EDWARDS = 0x40;
/**
 * Bound on the objects read under one CKA_ID. Credence makes at most two (a key and its public half), so anything
 * past a few is planted; the bound keeps a flood of them from costing unbounded memory and attribute reads.
 */
export const MAX_OBJECTS_UNDER_ID = 1024;
const BATCH = 64;

/** An object under a handle's CKA_ID that is Credence's: its label, and every attribute Credence sets, as it sets them. */
export interface OurObject {
  readonly object: Pkcs11Handle;
  readonly label: KeyLabel;
  readonly ephemeral: boolean;
  readonly isPublic: boolean;
}
/** Any other object there: planted by someone holding the PIN (handles are random, so never a collision). */
export interface OtherObject {
  readonly object: Pkcs11Handle;
  /** True when it carries a Credence label: made to pass for a Credence key, so tampering even for a lookup. */
  readonly labelled: boolean;
  readonly why: string;
}
export interface ObjectsUnderId {
  readonly ours: readonly OurObject[];
  readonly others: readonly OtherObject[];
}

/**
 * The token holds, under a Credence handle, what Credence did not make so: the service's condition, for its operator
 * to mend, never the caller's input (review 166: as a `validation` issue it was a 400 "Invalid request" to a device,
 * which does not retry, with the handle in the public answer). `secure_environment_unavailable`, as every other token
 * fault: the answer carries the reason only, the message with the handle goes to the log.
 */
export const integrity = (handle: KeyHandle, why: string) => pkcs11Unavailable('token_integrity', `key ${handle}: ${why} (docs/hsm.md)`);

/**
 * A key pair's private half without its public object (deleted outside Credence, as `pkcs11-tool --delete-object
 * --type pubkey` does). Not made again here: a token reads no public key out of a private one, and an object written
 * back would not be CKA_LOCAL, so it would be refused as planted (review 162: before, describe ran HMAC on the EC key).
 */
export const publicHalfMissing = (handle: KeyHandle, kind: KeyKind) =>
  integrity(
    handle,
    `its ${kind} private key is in the token but its public key object is missing (deleted outside Credence); refused: ` +
      'restore the token from a backup that holds it, or destroy the key and replace it where it is used',
  );

/** A CK_ULONG attribute (4 or 8 bytes, host byte order: little-endian on every platform Credence runs on). */
const ulong = (value: Buffer): number => (value.length === 8 ? Number(value.readBigUInt64LE()) : value.readUInt32LE());
const flag = (attribute: Pkcs11js.Attribute | undefined): boolean => Buffer.isBuffer(attribute?.value) && attribute.value[0] === 1;
const read = (module: Pkcs11, session: Pkcs11Handle, object: Pkcs11Handle, types: readonly number[]) =>
  module.C_GetAttributeValue(session, object, types.map((type) => ({ type })));

/** Kinds only ever generated inside the token (never derived, never passed in from the host) when not `host`. */
const TOKEN_GENERATED: readonly KeyKind[] = ['ed25519', 'p256', 'psk256'];
const KEY_TYPE: Partial<Record<KeyKind, number>> = { ed25519: CKK_EC_EDWARDS, p256: pkcs11js.CKK_EC };

/** Why `object` is not Credence's, or its facts; every attribute read is one Credence sets at creation (token-session.ts, token-objects.ts). */
const classify = (module: Pkcs11, session: Pkcs11Handle, object: Pkcs11Handle): Omit<OurObject, 'object'> | Omit<OtherObject, 'object'> => {
  const { CKA_CLASS, CKA_LABEL, CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_COPYABLE } = pkcs11js;
  const [cls, text, token, isPrivate, modifiable, copyable] = read(module, session, object, [CKA_CLASS, CKA_LABEL, CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_COPYABLE]);
  const label = decodeLabel(Buffer.isBuffer(text?.value) ? text.value.toString('utf8') : '');
  if (label === undefined) return { labelled: false, why: 'an object with no Credence label has its CKA_ID' };
  const other = (why: string) => ({ labelled: true, why: `an object labelled as a ${label.kind} key has its CKA_ID but ${why}` });
  const objectClass = ulong(cls?.value as Buffer);
  const pair = KEY_TYPE[label.kind] !== undefined;
  const classes = pair ? [pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY] : [pkcs11js.CKO_SECRET_KEY];
  if (!classes.includes(objectClass)) return other(`its CKA_CLASS is ${objectClass}`);
  if (!flag(isPrivate) || flag(modifiable) || flag(copyable)) return other('Credence makes every object CKA_PRIVATE and neither CKA_MODIFIABLE nor CKA_COPYABLE');
  const [keyType, local] = read(module, session, object, [pkcs11js.CKA_KEY_TYPE, pkcs11js.CKA_LOCAL]);
  if (ulong(keyType?.value as Buffer) !== (KEY_TYPE[label.kind] ?? pkcs11js.CKK_GENERIC_SECRET)) return other('its CKA_KEY_TYPE is not that kind');
  const generated = !label.host && TOKEN_GENERATED.includes(label.kind);
  // A key of known value (C_CreateObject, C_UnwrapKey) passing for one generated in the token is the attack to stop.
  if (generated && !flag(local)) return other('its label says it was generated in the token, and it was not (CKA_LOCAL)');
  const isPublic = objectClass === pkcs11js.CKO_PUBLIC_KEY;
  if (!isPublic) {
    const { CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE } = pkcs11js;
    const [sensitive, extractable, alwaysSensitive, neverExtractable] = read(module, session, object, [CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE]);
    // genericSecretTemplate: a secret is extractable (by the host transfer only) exactly when host-held or asked so;
    // or, host-held and not asked so, kept in the token since (keepInside, kept-in-token.ts: review 230), which only
    // narrows what it can do.
    const expected = !pair && (label.host || label.extractable);
    const keptInside = !pair && label.host && !label.extractable && !flag(extractable);
    if (!flag(sensitive) || (flag(extractable) !== expected && !keptInside)) return other('its CKA_SENSITIVE or CKA_EXTRACTABLE is not what Credence sets');
    if (generated && !flag(alwaysSensitive)) return other('its label says it was generated in the token, and it was not (CKA_ALWAYS_SENSITIVE)');
    if (generated && !label.extractable && !flag(neverExtractable)) return other('its label says never extractable, and CKA_NEVER_EXTRACTABLE is false');
  }
  return { label, ephemeral: !flag(token), isPublic };
};

const byId = (handle: KeyHandle): Pkcs11js.Attribute => ({ type: pkcs11js.CKA_ID, value: Buffer.from(handle, 'utf8') });

/** Runs `each` on every batch a search for `template` finds (a throw from it ends the search). */
const search = (module: Pkcs11, session: Pkcs11Handle, template: Pkcs11js.Template, each: (batch: Pkcs11Handle[]) => void): void =>
  searchObjects(module, session, template, BATCH, each);

const findAll = (module: Pkcs11, session: Pkcs11Handle, handle: KeyHandle): Pkcs11Handle[] => {
  const found: Pkcs11Handle[] = [];
  // Every object, not a first few: planted ones listed first must not hide a key that is to be destroyed.
  search(module, session, [byId(handle)], (batch) => {
    found.push(...batch);
    if (found.length > MAX_OBJECTS_UNDER_ID) throw integrity(handle, `more than ${MAX_OBJECTS_UNDER_ID} objects have its CKA_ID`);
  });
  return found;
};

/** How many objects have `handle`'s CKA_ID: counted, none kept or read, so a flood of planted ones costs no memory. */
export const countUnderId = (module: Pkcs11, session: Pkcs11Handle, handle: KeyHandle): number => {
  let count = 0;
  search(module, session, [byId(handle)], (batch) => {
    count += batch.length;
  });
  return count;
};

/**
 * `owner`'s objects under `handle`'s CKA_ID: searched by CKA_ID and each label a key of `owner` can carry, so the
 * token passes over every other object, however many were planted there (review 162: past MAX_OBJECTS_UNDER_ID, a
 * search by CKA_ID alone refused the destroy of the key). Each one found is still checked as objectsUnderId checks
 * it; one that carries the owner's label but fails the check is not returned (a shred leaves it, and counts it).
 * Unbounded: what an object costs here is its handle and its read, and each one returned is then destroyed.
 */
export const ownedUnderId = (module: Pkcs11, session: Pkcs11Handle, handle: KeyHandle, owner: string): OurObject[] => {
  const owned: OurObject[] = [];
  for (const { label } of ownerLabels(owner)) {
    const found: Pkcs11Handle[] = [];
    search(module, session, [byId(handle), { type: pkcs11js.CKA_LABEL, value: encodeLabel(label) }], (batch) => {
      found.push(...batch);
    });
    for (const object of found) {
      const facts = classifyUnlessGone(module, session, object);
      if (facts !== undefined && 'label' in facts && facts.label.owner === owner) owned.push({ object, ...facts });
    }
  }
  return owned;
};

/** classify, or undefined for an object destroyed meanwhile (by another process): gone, not tampered with. */
const classifyUnlessGone = (module: Pkcs11, session: Pkcs11Handle, object: Pkcs11Handle): ReturnType<typeof classify> | undefined => {
  try {
    return classify(module, session, object);
  } catch (error) {
    if (ckr(error) === 'CKR_OBJECT_HANDLE_INVALID') return undefined;
    throw error;
  }
};

/**
 * Every object whose CKA_ID is `handle`, Credence's told apart from any other. One that vanishes while it is read
 * (destroyed by another process, the Credence CLI say, between the search and the read) is gone, not tampered with.
 */
export const objectsUnderId = (module: Pkcs11, session: Pkcs11Handle, handle: KeyHandle): ObjectsUnderId => {
  const ours: OurObject[] = [];
  const others: OtherObject[] = [];
  for (const object of findAll(module, session, handle)) {
    const facts = classifyUnlessGone(module, session, object);
    if (facts === undefined) continue;
    if ('label' in facts) ours.push({ object, ...facts });
    else others.push({ object, ...facts });
  }
  return { ours, others };
};

/**
 * The key whose CKA_ID is `handle`, or undefined. Someone with the PIN could put objects of their own under a
 * Credence handle (C_CreateObject with a known key value and a Credence label); refused with `token_integrity`: an
 * object labelled as Credence's that Credence did not make so (objectsUnderId), or two key objects under one handle.
 * An object without a Credence label is not ours and cannot pass for the key: left aside here (destroy reports it).
 */
export const findTokenKey = (module: Pkcs11, session: Pkcs11Handle, handle: KeyHandle): TokenKey | undefined => {
  const { ours, others } = objectsUnderId(module, session, handle);
  const planted = others.find((other) => other.labelled);
  if (planted !== undefined) throw integrity(handle, `${planted.why}; refused`);
  const keys = ours.filter((object) => !object.isPublic);
  const publicKeys = ours.filter((object) => object.isPublic);
  if (keys.length > 1) throw integrity(handle, 'more than one key object has its CKA_ID; refused');
  if (publicKeys.length > 1) throw integrity(handle, 'more than one public key object has its CKA_ID; refused');
  const [key] = keys;
  if (key === undefined) return undefined;
  const [publicKey] = publicKeys;
  if (publicKey === undefined && KEY_TYPE[key.label.kind] !== undefined) throw publicHalfMissing(handle, key.label.kind);
  if (publicKey !== undefined && encodeLabel(publicKey.label) !== encodeLabel(key.label)) throw integrity(handle, 'its public key object has another label; refused');
  return { handle, label: key.label, ephemeral: key.ephemeral, key: key.object, ...(publicKey !== undefined ? { publicKey: publicKey.object } : {}) };
};
