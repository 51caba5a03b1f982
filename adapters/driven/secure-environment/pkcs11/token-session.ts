import type * as Pkcs11js from 'pkcs11js';
import type { KeyHandle } from '../../../../domain/ports/secure-environment.ts';
import { CredenceError } from '../../../../domain/errors.ts';
import { ckr, mechanismUnsupported, pkcs11js, pkcs11Problem, releaseModule, type Pkcs11, type Pkcs11EcdhParameters, type Pkcs11Handle, type Pkcs11Template } from './module.ts';
import { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, ED25519_PARAMS, fixed, identity, P256_PARAMS, secretAttributes, type KeyLabel } from './token-objects.ts';

const MECHANISMS = {
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

/**
 * The one logged-in session of a PKCS#11 Secure Environment and the calls it makes. pkcs11js calls are
 * synchronous, so one session serves every operation in turn. Every vendor error is translated here: a mechanism
 * the token does not list is `mechanism_unsupported` naming it, before any call; any other CKR_* is a typed
 * `token_error` naming the function and the return value (never an argument, so never key bytes or a PIN).
 */
export class TokenSession {
  readonly module: Pkcs11;
  readonly session: Pkcs11Handle;
  readonly #modulePath: string;
  readonly #mechanisms: ReadonlySet<number>;
  #closed = false;

  constructor(module: Pkcs11, session: Pkcs11Handle, modulePath: string, mechanisms: ReadonlySet<number>) {
    this.module = module;
    this.session = session;
    this.#modulePath = modulePath;
    this.#mechanisms = mechanisms;
  }

  /** Runs PKCS#11 calls, translating vendor errors into ours. */
  run<T>(work: () => T): T {
    if (this.#closed) throw pkcs11Problem('session', 'open', 'this PKCS#11 Secure Environment is closed');
    try {
      return work();
    } catch (error) {
      if (error instanceof CredenceError || error instanceof TypeError) throw error;
      const code = ckr(error);
      if (code === 'CKR_MECHANISM_INVALID') throw mechanismUnsupported('(token)', 'the token refused a mechanism (CKR_MECHANISM_INVALID)');
      const method = (error as { method?: string }).method || 'a PKCS#11 call';
      throw pkcs11Problem('token', 'token_error', `${method} failed: ${code ?? (error as Error).message}`);
    }
  }

  mechanism(name: MechanismName): number {
    const value = MECHANISMS[name];
    if (!this.#mechanisms.has(value)) throw mechanismUnsupported(name, 'this token does not offer it (C_GetMechanismList)');
    return value;
  }

  generateKeyPair(handle: KeyHandle, label: KeyLabel, ephemeral: boolean): Pkcs11js.KeyPair {
    const ed = label.kind === 'ed25519';
    const mechanism = this.mechanism(ed ? 'CKM_EC_EDWARDS_KEY_PAIR_GEN' : 'CKM_EC_KEY_PAIR_GEN');
    this.mechanism(ed ? 'CKM_EDDSA' : label.usage === 'agree' ? 'CKM_ECDH1_DERIVE' : 'CKM_ECDSA');
    const signs = label.usage === 'sign';
    return this.run(() =>
      this.module.C_GenerateKeyPair(
        this.session,
        { mechanism },
        fixed([
          ...identity(handle, label, ephemeral),
          { type: pkcs11js.CKA_EC_PARAMS, value: ed ? ED25519_PARAMS : P256_PARAMS },
          // Private too: its label names the owner, which no one without the PIN needs to see.
          { type: pkcs11js.CKA_PRIVATE, value: true },
          { type: pkcs11js.CKA_VERIFY, value: signs },
        ]),
        fixed([
          ...identity(handle, label, ephemeral),
          ...secretAttributes(false),
          { type: pkcs11js.CKA_SIGN, value: signs },
          { type: pkcs11js.CKA_DERIVE, value: !signs },
        ]),
      ),
    );
  }

  generateSecret(template: Pkcs11Template): Pkcs11Handle {
    const mechanism = this.mechanism('CKM_GENERIC_SECRET_KEY_GEN');
    this.mechanism('CKM_SHA256_HMAC');
    return this.run(() => this.module.C_GenerateKey(this.session, { mechanism }, fixed([...template, { type: pkcs11js.CKA_VALUE_LEN, value: 32 }])));
  }

  /** ECDH (PKCS#11 v3.0 §2.3.9, KDF null): the raw shared x-coordinate, as a new secret object. */
  deriveEcdh(key: Pkcs11Handle, peerPublicKey: Uint8Array, template: Pkcs11Template): Pkcs11Handle {
    const mechanism = this.mechanism('CKM_ECDH1_DERIVE');
    return this.run(() =>
      this.module.C_DeriveKey(
        this.session,
        { mechanism, parameter: { type: pkcs11js.CK_PARAMS_EC_DH, kdf: pkcs11js.CKD_NULL, publicData: Buffer.from(peerPublicKey) } as Pkcs11EcdhParameters },
        key,
        fixed([...template, { type: pkcs11js.CKA_VALUE_LEN, value: 32 }]),
      ),
    );
  }

  sign(name: 'CKM_EDDSA' | 'CKM_ECDSA' | 'CKM_SHA256_HMAC', key: Pkcs11Handle, data: Uint8Array, length: number): Uint8Array {
    const mechanism = this.mechanism(name);
    // pkcs11js hands an empty buffer to the module as a NULL pointer, which SoftHSM2 refuses (CKR_ARGUMENTS_BAD)
    // and which leaves the operation active. An HMAC of nothing is C_SignInit then C_SignFinal (multi-part with no
    // part); CKM_EDDSA is single-part only, so an empty message to sign is refused here, naming the argument.
    if (data.length === 0 && name !== 'CKM_SHA256_HMAC') throw new TypeError(`message: ${name} through PKCS#11 cannot take an empty message`);
    return this.run(() => {
      this.module.C_SignInit(this.session, { mechanism }, key);
      if (data.length === 0) return new Uint8Array(this.module.C_SignFinal(this.session, Buffer.alloc(length)));
      return new Uint8Array(this.module.C_Sign(this.session, Buffer.from(data), Buffer.alloc(length)));
    });
  }

  /** C_Verify; a tag that does not match is false, not an error. */
  verify(name: 'CKM_SHA256_HMAC', key: Pkcs11Handle, data: Uint8Array, tag: Uint8Array): boolean {
    const mechanism = this.mechanism(name);
    return this.run(() => {
      this.module.C_VerifyInit(this.session, { mechanism }, key);
      try {
        // An empty message: multi-part with no part (see sign).
        if (data.length === 0) return this.module.C_VerifyFinal(this.session, Buffer.from(tag));
        return this.module.C_Verify(this.session, Buffer.from(data), Buffer.from(tag));
      } catch (error) {
        const code = ckr(error);
        if (code === 'CKR_SIGNATURE_INVALID' || code === 'CKR_SIGNATURE_LEN_RANGE') return false;
        throw error;
      }
    });
  }

  /** True when `object` still exists in this session and still has CKA_ID `handle`. */
  stillHolds(object: Pkcs11Handle, handle: KeyHandle): boolean {
    try {
      const [id] = this.module.C_GetAttributeValue(this.session, object, [{ type: pkcs11js.CKA_ID }]);
      return Buffer.isBuffer(id?.value) && id.value.toString('utf8') === handle;
    } catch (error) {
      if (ckr(error) === 'CKR_OBJECT_HANDLE_INVALID') return false;
      throw error;
    }
  }

  destroy(objects: readonly Pkcs11Handle[]): void {
    this.run(() => {
      for (const object of objects) this.module.C_DestroyObject(this.session, object);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.module.C_CloseSession(this.session);
    } finally {
      releaseModule(this.#modulePath);
    }
  }
}
