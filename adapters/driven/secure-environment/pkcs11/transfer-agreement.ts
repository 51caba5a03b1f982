import { generateAgreementKey, sharedSecret } from '../../../../domain/crypto/agreement.ts';
import { wipe } from '../../../../domain/crypto/bytes.ts';
import type { RandomSource } from '../../../../domain/ports/random.ts';
import { MECHANISMS, type MechanismName } from './mechanisms.ts';
import { mechanismUnsupported, pkcs11js, pkcs11Problem, type Pkcs11, type Pkcs11EcdhParameters, type Pkcs11Handle, type Pkcs11Template } from './module.ts';
import { ecPoint, fixed, P256_PARAMS, secretAttributes, UNUSED_BY_PRIVATE_KEYS, UNUSED_BY_PUBLIC_KEYS } from './token-objects.ts';

/** The host transfer key: its AES-256 object in the token (session object) and the same 32 bytes in host memory. */
export interface TransferKey {
  readonly object: Pkcs11Handle;
  /** The caller wipes it. */
  readonly key: Buffer;
}

const LABEL = 'credence/se/1 host-transfer';
const AGREEMENT: readonly MechanismName[] = ['CKM_EC_KEY_PAIR_GEN', 'CKM_ECDH1_DERIVE'];

/**
 * Session objects only, never readable: the private half can derive and nothing else, every other usage flag set
 * false rather than left to the token's defaults (SoftHSM2 sets most of them true), as for Credence's key pairs.
 */
const pairTemplates = (): { publicTemplate: Pkcs11Template; privateTemplate: Pkcs11Template } => ({
  publicTemplate: fixed([
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_EC_PARAMS, value: P256_PARAMS },
    { type: pkcs11js.CKA_LABEL, value: `${LABEL} agreement` },
    { type: pkcs11js.CKA_VERIFY, value: false },
    ...UNUSED_BY_PUBLIC_KEYS,
  ]),
  privateTemplate: fixed([
    { type: pkcs11js.CKA_TOKEN, value: false },
    ...secretAttributes(false),
    { type: pkcs11js.CKA_LABEL, value: `${LABEL} agreement` },
    { type: pkcs11js.CKA_SIGN, value: false },
    { type: pkcs11js.CKA_DERIVE, value: true },
    ...UNUSED_BY_PRIVATE_KEYS,
  ]),
});

/** AES-256, a session object that wraps and unwraps and does nothing else, never readable, never altered or copied. */
const transferTemplate = (): Pkcs11Template =>
  fixed([
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_TOKEN, value: false },
    ...secretAttributes(false),
    { type: pkcs11js.CKA_WRAP, value: true },
    { type: pkcs11js.CKA_UNWRAP, value: true },
    { type: pkcs11js.CKA_ENCRYPT, value: false },
    { type: pkcs11js.CKA_DECRYPT, value: false },
    { type: pkcs11js.CKA_SIGN, value: false },
    { type: pkcs11js.CKA_VERIFY, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
    { type: pkcs11js.CKA_LABEL, value: LABEL },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
  ]);

/**
 * The token's list, read afresh from the session's slot (the session is all the transfer is given): a token without
 * the agreement refuses the host operation naming the mechanism. There is no fallback to a key made in clear.
 */
const requireAgreement = (module: Pkcs11, session: Pkcs11Handle): void => {
  const offered = new Set(module.C_GetMechanismList(module.C_GetSessionInfo(session).slotID));
  for (const name of AGREEMENT) {
    if (!offered.has(MECHANISMS[name])) {
      throw mechanismUnsupported(name, 'the host transfer key is agreed with the token by P-256 ECDH so that no key crosses the PKCS#11 API in clear, and this token does not offer it (docs/hsm.md)');
    }
  }
};

/** Destroys the objects; when `quietly`, an earlier error is the one the caller must see, so this one is dropped. */
const destroy = (module: Pkcs11, session: Pkcs11Handle, objects: readonly Pkcs11Handle[], quietly: boolean): void => {
  for (const object of objects) {
    try {
      module.C_DestroyObject(session, object);
    } catch (error) {
      if (!quietly) throw error;
    }
  }
};

/**
 * Agrees the host transfer key with the token so that only public points cross the PKCS#11 API (for a network HSM
 * the API is a wire): an ephemeral P-256 pair in the token, one in the host, and C_DeriveKey(CKM_ECDH1_DERIVE,
 * CKD_NULL) into the AES key, whose value the host computes from its own side. With CKD_NULL (no KDF: PKCS#11
 * v2.40/v3.0 "Elliptic curve Diffie-Hellman key derivation") the key value is Z, the shared x-coordinate (SEC 1
 * §3.3.1), and a P-256 Z is exactly the 32 bytes of an AES-256 key, so no token's truncation rule comes into it.
 * CKD_NULL because SoftHSM2 2.6 takes no other KDF (CKR_MECHANISM_PARAM_INVALID); the key is ephemeral on both sides
 * and only ever wraps (RFC 5649, which authenticates what it unwraps). A token that refuses CKD_NULL fails the host
 * operation (`token_error` naming C_DeriveKey and its CKR_*): never a fallback. The host's secret and Z are wiped
 * here; the token's pair is destroyed as soon as the AES key exists, or as soon as making it failed.
 */
export const agreeTransferKey = (module: Pkcs11, session: Pkcs11Handle, random: RandomSource): TransferKey => {
  requireAgreement(module, session);
  const host = generateAgreementKey('p256', random);
  let z: Uint8Array | undefined;
  try {
    const { publicTemplate, privateTemplate } = pairTemplates();
    const pair = module.C_GenerateKeyPair(session, { mechanism: MECHANISMS.CKM_EC_KEY_PAIR_GEN }, publicTemplate, privateTemplate);
    let transfer: TransferKey;
    try {
      z = sharedSecret('p256', host.secretKey, ecPoint(module, session, pair.publicKey, 'p256'));
      if (z === undefined) throw pkcs11Problem('token', 'ec_point', "the token's ephemeral P-256 public key for the host transfer key is not a point on the curve");
      const parameter: Pkcs11EcdhParameters = { type: pkcs11js.CK_PARAMS_EC_DH, kdf: pkcs11js.CKD_NULL, publicData: Buffer.from(host.publicKey) };
      const object = module.C_DeriveKey(session, { mechanism: MECHANISMS.CKM_ECDH1_DERIVE, parameter }, pair.privateKey, transferTemplate());
      transfer = { object, key: Buffer.from(z) };
    } catch (error) {
      destroy(module, session, [pair.privateKey, pair.publicKey], true);
      throw error;
    }
    try {
      destroy(module, session, [pair.privateKey, pair.publicKey], false);
    } catch (error) {
      // Not used with its pair possibly left: the AES key goes too (and with the session in any case).
      transfer.key.fill(0);
      destroy(module, session, [transfer.object], true);
      throw error;
    }
    return transfer;
  } finally {
    wipe(host.secretKey, z);
  }
};
