import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { RandomSource } from '../../../../domain/ports/random.ts';
import type { KeyKind } from '../../../../domain/ports/secure-environment.ts';
import { mechanismUnsupported, pkcs11js, type Pkcs11, type Pkcs11Handle, type Pkcs11Template } from './module.ts';
import { fixed } from './token-objects.ts';
import { agreeTransferKey } from './transfer-agreement.ts';

/** RFC 5649 §3 alternative initial value (AES key wrap with padding = CKM_AES_KEY_WRAP_PAD). */
const RFC5649_AIV = Buffer.from('a65959a6', 'hex');
const CKM_AES_KEY_WRAP_PAD = pkcs11js.CKM_AES_KEY_WRAP_PAD;

/** The kinds whose bytes may pass through host memory under `x-derivation=host` (docs/hsm.md). */
export const HOST_KINDS: readonly KeyKind[] = ['psk256', 'session256', 'secret', 'x25519'];
/** What a host-run operation would need from a token to run there, named when it is refused without the fallback. */
export interface HostOperation {
  readonly what: string;
  readonly mechanism: string;
}
export const HKDF: HostOperation = { what: 'HKDF-SHA256', mechanism: 'CKM_HKDF_DERIVE' };
export const AEAD: HostOperation = { what: 'XChaCha20-Poly1305', mechanism: 'CKM_XCHACHA20_POLY1305' };
export const X25519: HostOperation = { what: 'X25519', mechanism: 'CKM_EC_MONTGOMERY_KEY_PAIR_GEN' };
export const HOST_ONLY = ({ what, mechanism }: HostOperation) =>
  mechanismUnsupported(mechanism, `${what} is not offered by the token; set x-derivation=host in the PKCS#11 URI to run it in host memory (docs/hsm.md)`);

/**
 * Only under `x-derivation=host` (docs/hsm.md): the channel through which the bytes of host-held keys (psk256,
 * session256, ECDH `secret`, x25519) cross the PKCS#11 API, always AES-wrapped (RFC 5649), never as CKA_VALUE in
 * clear: for a network HSM the API is a wire. The transfer key itself never crosses it either: it is agreed with the
 * token by P-256 ECDH (transfer-agreement.ts), a session object (gone with the session) whose bytes this process
 * computes on its side and wipes at `close`. The keys it carries are CKA_SENSITIVE (their value is never readable) but
 * CKA_EXTRACTABLE, which is exactly the exposure docs/hsm.md states. Signing and ECDH private keys never pass here.
 */
export class HostTransfer {
  readonly #module: Pkcs11;
  readonly #session: Pkcs11Handle;
  readonly #key: Buffer;
  readonly #object: Pkcs11Handle;

  constructor(module: Pkcs11, session: Pkcs11Handle, random: RandomSource) {
    this.#module = module;
    this.#session = session;
    const { object, key } = agreeTransferKey(module, session, random);
    this.#object = object;
    this.#key = key;
  }

  /** The key's bytes in host memory; the caller wipes them. */
  exportBytes(object: Pkcs11Handle): Uint8Array {
    const wrapped = this.#module.C_WrapKey(this.#session, { mechanism: CKM_AES_KEY_WRAP_PAD }, this.#object, object, Buffer.alloc(256));
    const decipher = createDecipheriv('id-aes256-wrap-pad', this.#key, RFC5649_AIV);
    // Each buffer the decipher returns is a plaintext copy of the key: copied once into the result, then wiped.
    const parts: Buffer[] = [];
    try {
      parts.push(decipher.update(wrapped));
      parts.push(decipher.final());
      const bytes = new Uint8Array(parts.reduce((length, part) => length + part.length, 0));
      let offset = 0;
      for (const part of parts) {
        bytes.set(part, offset);
        offset += part.length;
      }
      return bytes;
    } finally {
      for (const part of parts) part.fill(0);
    }
  }

  /** A new object of `template` holding `bytes` (the caller still owns and wipes `bytes`). */
  importBytes(bytes: Uint8Array, template: Pkcs11Template): Pkcs11Handle {
    const cipher = createCipheriv('id-aes256-wrap-pad', this.#key, RFC5649_AIV);
    const wrapped = Buffer.concat([cipher.update(bytes), cipher.final()]);
    return this.#module.C_UnwrapKey(this.#session, { mechanism: CKM_AES_KEY_WRAP_PAD }, this.#object, wrapped, fixed(template));
  }

  close(): void {
    this.#key.fill(0);
  }
}
