import { pkcs11js } from './module.ts';
import { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA } from './token-objects.ts';

/** The PKCS#11 mechanisms Credence uses, by name; a token must list one before it is used (TokenSession `mechanism`). */
export const MECHANISMS = {
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  CKM_EDDSA,
  CKM_EC_KEY_PAIR_GEN: pkcs11js.CKM_EC_KEY_PAIR_GEN,
  CKM_ECDSA: pkcs11js.CKM_ECDSA,
  CKM_ECDH1_DERIVE: pkcs11js.CKM_ECDH1_DERIVE,
  CKM_SHA256_HMAC: pkcs11js.CKM_SHA256_HMAC,
  CKM_GENERIC_SECRET_KEY_GEN: pkcs11js.CKM_GENERIC_SECRET_KEY_GEN,
  CKM_AES_KEY_WRAP_PAD: pkcs11js.CKM_AES_KEY_WRAP_PAD,
} as const;
export type MechanismName = keyof typeof MECHANISMS;
