import type * as Pkcs11js from 'pkcs11js';
import type { KeyHandle } from '../../../../domain/ports/secure-environment.ts';
import { pkcs11js, type Pkcs11EcdhParameters, type Pkcs11Handle, type Pkcs11Template } from './module.ts';
import type { TokenSession } from './token-session.ts';
import { ED25519_PARAMS, fixed, identity, P256_PARAMS, secretAttributes, UNUSED_BY_PRIVATE_KEYS, UNUSED_BY_PUBLIC_KEYS, type KeyLabel } from './token-objects.ts';

/*
 * The key objects a PKCS#11 Secure Environment makes in its token (key pairs, HMAC secrets, ECDH secrets): each
 * mechanism checked against the token's list first, each template's refusal told apart (TokenSession `run`).
 */

export const generateKeyPair = (token: TokenSession, handle: KeyHandle, label: KeyLabel, ephemeral: boolean): Pkcs11js.KeyPair => {
  const ed = label.kind === 'ed25519';
  const mechanism = token.mechanism(ed ? 'CKM_EC_EDWARDS_KEY_PAIR_GEN' : 'CKM_EC_KEY_PAIR_GEN');
  token.mechanism(ed ? 'CKM_EDDSA' : label.usage === 'agree' ? 'CKM_ECDH1_DERIVE' : 'CKM_ECDSA');
  const signs = label.usage === 'sign';
  const publicTemplate = fixed([
    ...identity(handle, label, ephemeral),
    { type: pkcs11js.CKA_EC_PARAMS, value: ed ? ED25519_PARAMS : P256_PARAMS },
    // Private too: its label names the owner, which no one without the PIN needs to see.
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_VERIFY, value: signs },
    ...UNUSED_BY_PUBLIC_KEYS,
  ]);
  const privateTemplate = fixed([
    ...identity(handle, label, ephemeral),
    ...secretAttributes(false),
    { type: pkcs11js.CKA_SIGN, value: signs },
    { type: pkcs11js.CKA_DERIVE, value: !signs },
    ...UNUSED_BY_PRIVATE_KEYS,
  ]);
  return token.run(() => token.module.C_GenerateKeyPair(token.session, { mechanism }, publicTemplate, privateTemplate), privateTemplate);
};

export const generateSecret = (token: TokenSession, template: Pkcs11Template): Pkcs11Handle => {
  const mechanism = token.mechanism('CKM_GENERIC_SECRET_KEY_GEN');
  token.mechanism('CKM_SHA256_HMAC');
  return token.run(() => token.module.C_GenerateKey(token.session, { mechanism }, fixed([...template, { type: pkcs11js.CKA_VALUE_LEN, value: 32 }])), template);
};

/** ECDH (PKCS#11 v3.0 §2.3.9, KDF null): the raw shared x-coordinate, as a new secret object. */
export const deriveEcdh = (token: TokenSession, key: Pkcs11Handle, peerPublicKey: Uint8Array, template: Pkcs11Template): Pkcs11Handle => {
  const mechanism = token.mechanism('CKM_ECDH1_DERIVE');
  return token.run(() =>
    token.module.C_DeriveKey(
      token.session,
      { mechanism, parameter: { type: pkcs11js.CK_PARAMS_EC_DH, kdf: pkcs11js.CKD_NULL, publicData: Buffer.from(peerPublicKey) } as Pkcs11EcdhParameters },
      key,
      fixed([...template, { type: pkcs11js.CKA_VALUE_LEN, value: 32 }]),
    ),
    template,
  );
};
