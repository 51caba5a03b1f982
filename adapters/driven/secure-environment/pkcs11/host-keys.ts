import { wipe } from '../../../../domain/crypto/bytes.ts';
import type { KeyHandle, KeyKind, KeyOptions } from '../../../../domain/ports/secure-environment.ts';
import { usageFor } from '../port-checks.ts';
import { HKDF, HOST_KINDS, HOST_ONLY, type HostOperation } from './host-transfer.ts';
import type { LiveSession } from './live-session.ts';
import { pkcs11Problem } from './module.ts';
import type { RememberedKeys } from './remembered-keys.ts';
import type { TokenSession } from './token-session.ts';
import { genericSecretTemplate, type KeyLabel, type TokenKey } from './token-objects.ts';

/**
 * The key bytes a PKCS#11 Secure Environment handles in host memory under `x-derivation=host` (HKDF,
 * XChaCha20-Poly1305, X25519: no mechanism in the token), moved through the session's channel (host-transfer.ts)
 * and wiped after use. Without `x-derivation=host` every one of them is refused (`mechanism_unsupported`).
 */
export class HostKeys {
  readonly #live: LiveSession;
  readonly #token: TokenSession;
  readonly #keys: RememberedKeys;
  readonly #newHandle: () => KeyHandle;
  readonly #derivation: 'token' | 'host';

  constructor(live: LiveSession, token: TokenSession, keys: RememberedKeys, newHandle: () => KeyHandle, derivation: 'token' | 'host') {
    this.#live = live;
    this.#token = token;
    this.#keys = keys;
    this.#newHandle = newHandle;
    this.#derivation = derivation;
  }

  /** `operation`: what needs the bytes in host memory (its mechanism is named in the refusal without the fallback). */
  bytes(key: TokenKey, operation: HostOperation): Uint8Array {
    if (this.#derivation !== 'host') throw HOST_ONLY(operation);
    if (!key.label.host || !HOST_KINDS.includes(key.label.kind)) {
      throw pkcs11Problem('handle', 'host_key', `key ${key.handle} stays in the token (made without x-derivation=host, or to be used there only: hostUse false)`);
    }
    const transfer = this.#live.channel();
    return this.#token.run(() => transfer.exportBytes(key.key));
  }

  withBytes<T>(key: TokenKey, operation: HostOperation, use: (bytes: Uint8Array) => T): T {
    const bytes = this.bytes(key, operation);
    try {
      return use(bytes);
    } finally {
      wipe(bytes);
    }
  }

  /**
   * Imports host-computed key bytes as a new host-held key object, and wipes them. Only inside `LiveSession.recovering`,
   * which keeps the key's handle across its attempts (`newKeyHandle`).
   */
  import(owner: string, kind: KeyKind, bytes: Uint8Array, options: KeyOptions): KeyHandle {
    try {
      if (this.#derivation !== 'host') throw HOST_ONLY(HKDF);
      const transfer = this.#live.channel();
      // One handle for every attempt of the operation: a retry after a lost session first shreds what this made.
      const handle = this.#live.newKeyHandle(owner, this.#newHandle);
      const usage = usageFor(kind, options);
      const ephemeral = kind === 'secret' || options.ephemeral === true;
      const label: KeyLabel = { owner, kind, ...(usage ? { usage } : {}), extractable: kind !== 'secret' && options.extractable === true, host: true };
      const template = genericSecretTemplate(handle, label, ephemeral, true);
      const key = this.#token.run(() => transfer.importBytes(bytes, template), template);
      return this.#keys.remember({ handle, label, ephemeral, key });
    } finally {
      wipe(bytes);
    }
  }
}
