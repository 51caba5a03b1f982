import { isCredenceError, validationError, type CredenceError } from '../../../../domain/errors.ts';
import { isValidAgreementPublicKey, sharedSecret } from '../../../../domain/crypto/agreement.ts';
import { toBase64url } from '../../../../domain/crypto/base64url.ts';
import { assertBytes } from '../../../../domain/crypto/bytes.ts';
import { sha256 } from '../../../../domain/crypto/hash.ts';
import { bindOwner } from '../../../../domain/ports/owner-view.ts';
import type { RandomSource } from '../../../../domain/ports/random.ts';
import {
  hostUseOf,
  KeyHandle,
  type DeriveKeySpec,
  type GeneratedKeyKind,
  type GenerateOptions,
  type KeptInside,
  type KeyDescription,
  type KeyListPage,
  type KeyListRequest,
  type OwnedSecureEnvironment,
  type OwnerScopedSecureEnvironment,
  type UnwrapSpec,
} from '../../../../domain/ports/secure-environment.ts';
import { shownKind } from '../port-checks.ts';
import { HostKeys } from './host-keys.ts';
import { deriveInHost, openInHost, sealInHost, unwrapInHost, wrapInHost, type HostOperations } from './host-operations.ts';
import { deriveEcdh, generateKeyPair, generateSecret } from './key-generation.ts';
import { describeTokenKey } from './key-description.ts';
import { generationHandle } from './generation-handle.ts';
import { KeyLookup } from './key-lookup.ts';
import { listTokenKeys } from './key-listing.ts';
import { checkListRequest } from '../key-listing.ts';
import { AEAD, HKDF, HOST_ONLY, X25519 } from './host-transfer.ts';
import { LiveSession } from './live-session.ts';
import {
  checkMessages,
  KEY_LENGTH,
  peerKeyRefused,
  requireHandle,
  requireKind,
  requireServedOwner,
  requireUsage,
  usageFor,
} from '../port-checks.ts';
import { lowS } from './key-rules.ts';
import { pkcs11Problem } from './module.ts';
import { Pkcs11SecureEnvironmentConfig, type Pkcs11SecureEnvironmentDeps } from './pkcs11-config.ts';
import { PinSupply } from './pin-source.ts';
import type { RememberedKeys } from './remembered-keys.ts';
import { TokenSession } from './token-session.ts';
import { shred } from './shred.ts';
import { keepInToken } from './kept-in-token.ts';
import { genericSecretTemplate, type KeyLabel, type TokenKey } from './token-objects.ts';
import { issuesOf, parsePkcs11Uri, type Pkcs11Uri } from './uri.ts';

const TOKEN_DERIVATION_WARNING =
  `with x-derivation=token (the default), ${[X25519, HKDF, AEAD].map((o) => `${o.what} (${o.mechanism})`).join(', ')} are refused with ` +
  'mechanism_unsupported: PSK pre-provisioning (bootstrap PSKs, PSK copies) and the association handshake fail when a device uses them; ' +
  'signing, P-256 ECDH, HMAC and Ed25519 remote provisioning work. Set x-derivation=host in the PKCS#11 URI to run those operations in host memory (docs/hsm.md)';

/**
 * The Secure Environment port over PKCS#11 (SER-023; issue 16), proven on SoftHSM2. Every key is a token object
 * found by CKA_ID = handle, with its owner, kind and usage in an unmodifiable CKA_LABEL, so handles and their owner
 * binding survive a restart; ephemeral keys are session objects (CKA_TOKEN false). Signing (CKM_EDDSA, CKM_ECDSA),
 * P-256 ECDH (CKM_ECDH1_DERIVE into a secret object) and HMAC (CKM_SHA256_HMAC) always run in the token, on keys
 * that are CKA_SENSITIVE and never extractable. HKDF, XChaCha20-Poly1305 (seal and the port's wrap format) and
 * X25519 have no mechanism in the token: refused (`mechanism_unsupported`) unless `x-derivation=host`, under which
 * they run in host memory over the symmetric and X25519 keys only (host-transfer.ts, docs/hsm.md).
 */
export class Pkcs11SecureEnvironment implements OwnerScopedSecureEnvironment {
  readonly #live: LiveSession;
  /** The same objects as #live's, for brevity: the TokenSession outlives each PKCS#11 session it opens. */
  readonly #token: TokenSession;
  readonly #keys: RememberedKeys;
  /** The keys handled in host memory under x-derivation=host (host-keys.ts). */
  readonly #host: HostKeys;
  /** Shared with the operations that run in host memory (host-operations.ts). */
  readonly #inHost: HostOperations;
  readonly #lookup: KeyLookup;
  readonly #random: RandomSource;
  readonly #owners: ReadonlySet<string> | undefined;
  readonly derivation: 'token' | 'host';
  /**
   * Review 209: under `x-derivation=token` X25519, HKDF-SHA256 and XChaCha20-Poly1305 are refused whatever the token
   * lists (no in-token path exists for them, `HOST_ONLY`), so the service reported ready while PSK pre-provisioning
   * and the association handshake failed at run time. Said at warn by the service's start, not refused: a deployment
   * may use neither protocol.
   */
  readonly openingWarning: string | undefined;

  private constructor(token: TokenSession, uri: Pkcs11Uri, random: RandomSource, owners?: readonly string[]) {
    this.#live = new LiveSession(token, uri.derivation === 'host', random);
    this.#token = token;
    this.#keys = this.#live.keys;
    this.#random = random;
    this.#lookup = new KeyLookup(token, this.#keys);
    this.#host = new HostKeys(this.#live, token, this.#keys, () => this.#newHandle(), uri.derivation);
    this.#owners = owners ? new Set(owners) : undefined;
    this.derivation = uri.derivation;
    this.openingWarning = uri.derivation === 'token' ? TOKEN_DERIVATION_WARNING : undefined;
    this.#inHost = { host: this.#host, random, derivation: uri.derivation, key: (owner, handle) => this.#key(owner, handle) };
  }

  /**
   * Loads the module, finds the token, opens a session and logs in. Typed `validation` errors for a bad URI, a
   * missing module file, a missing token, a missing or wrong PIN (CKR_PIN_INCORRECT); none carries the PIN.
   */
  static open(config: unknown, deps: Pkcs11SecureEnvironmentDeps): Pkcs11SecureEnvironment {
    const parsed = Pkcs11SecureEnvironmentConfig.safeParse(config);
    if (!parsed.success) {
      throw validationError(issuesOf(parsed.error), 'PKCS#11 Secure Environment configuration');
    }
    const uri = parsePkcs11Uri(parsed.data.uri);
    const pin = PinSupply.take(uri.pin, deps.env ?? process.env);
    const token = TokenSession.open(uri, pin);
    try {
      const opened = new Pkcs11SecureEnvironment(token, uri, deps.random, parsed.data.owners);
      pin.leaveEnvironment();
      return opened;
    } catch (error) {
      token.close();
      throw error;
    }
  }

  /** Closes the session (its ephemeral keys go with it) and finalises the module when nothing else uses it. */
  close(): void {
    this.#live.close();
  }

  /**
   * Why the token cannot be used now (`secure_environment_unavailable`), or undefined when it serves: readiness
   * (GET /readyz). The check a key lookup makes (C_GetTokenInfo, C_GetSessionInfo); a lost session gets the one
   * recovery an operation would make, so a token that came back is found again without an operation, which a
   * service taken out of its load balancer would never get. Bounded as every recovery: two attempts, no loop; and,
   * since anyone who can reach /readyz can run it, held to a wait per module while the token stays away, the last
   * failure answered meanwhile (review 269: a module restart on every call; token-session.ts READINESS_RESTART_WAIT_MS).
   */
  async unavailable(): Promise<CredenceError | undefined> {
    try {
      this.#token.checkingReadiness(() => this.#live.recovering(() => this.#token.confirmServing()));
      return undefined;
    } catch (error) {
      if (isCredenceError(error, 'secure_environment_unavailable')) return error;
      throw error;
    }
  }

  forOwner(owner: string): OwnedSecureEnvironment {
    this.#requireOwner(owner);
    return bindOwner(this, owner);
  }

  async generate(owner: string, kind: GeneratedKeyKind, options: GenerateOptions = {}): Promise<KeyHandle> {
    // One handle for both attempts: a retry after a lost session first shreds what the first one made under it.
    const attemptHandle = generationHandle(this.#token, this.#keys, owner, () => this.#newHandle());
    return this.#live.recovering(() => {
      this.#requireOwner(owner);
      const usage = usageFor(kind, options);
      const ephemeral = options.ephemeral === true;
      const extractable = options.extractable === true;
      const hostUse = hostUseOf(kind, options);
      if (kind === 'ed25519' || kind === 'p256') {
        if (extractable) {
          throw pkcs11Problem('options.extractable', 'private_key_not_extractable', `a ${kind} key generated in the token never leaves it (the port's wrap format would put it in host memory)`);
        }
        const handle = attemptHandle();
        const label: KeyLabel = { owner, kind, ...(usage ? { usage } : {}), extractable: false, host: false };
        const pair = generateKeyPair(this.#token, handle, label, ephemeral);
        return this.#keys.remember({ handle, label, ephemeral, key: pair.privateKey, publicKey: pair.publicKey });
      }
      if (kind === 'psk256') {
        const handle = attemptHandle();
        // Review 230: host-held (CKA_EXTRACTABLE, for the host transfer) only when its caller may need its bytes in host
        // memory; a key only ever MACed with (the pseudonym PRF key) stays in the token whatever the derivation.
        const host = this.derivation === 'host' && hostUse;
        const label: KeyLabel = { owner, kind, extractable, host };
        const key = generateSecret(this.#token, genericSecretTemplate(handle, label, ephemeral, host || extractable));
        return this.#keys.remember({ handle, label, ephemeral, key });
      }
      if (kind === 'x25519') {
        if (this.derivation !== 'host') throw HOST_ONLY(X25519);
        return this.#host.import(owner, kind, this.#random(KEY_LENGTH).slice(), { ...options, usage: 'agree' });
      }
      throw new TypeError(`kind: cannot generate ${shownKind(kind)}`);
    });
  }

  /** CKA_EXTRACTABLE set false on a key that has it true (kept-in-token.ts). */
  async keepInside(owner: string, handle: KeyHandle): Promise<KeptInside> {
    return this.#live.usingKeys(() => keepInToken(this.#token, this.#key(owner, handle)));
  }

  async describe(owner: string, handle: KeyHandle): Promise<KeyDescription> {
    return this.#live.usingKeys(() => describeTokenKey(this.#token, this.#host, this.#key(owner, handle), handle));
  }

  async sign(owner: string, handle: KeyHandle, message: Uint8Array): Promise<Uint8Array> {
    return this.#live.usingKeys(() => {
      assertBytes(message, 'message');
      const key = this.#key(owner, handle);
      const kind = requireKind(key.label, 'sign', ['ed25519', 'p256'] as const);
      requireUsage(key.label, 'sign');
      if (kind === 'ed25519') return this.#token.sign('CKM_EDDSA', key.key, message, 64);
      // CKM_ECDSA signs a digest: SHA-256 is computed here, the private key never leaves the token.
      return lowS(this.#token.sign('CKM_ECDSA', key.key, sha256(message), 64));
    });
  }

  async agree(owner: string, handle: KeyHandle, peerPublicKey: Uint8Array): Promise<KeyHandle> {
    return this.#live.usingKeys(() => {
      assertBytes(peerPublicKey, 'peerPublicKey');
      const key = this.#key(owner, handle);
      const group = requireKind(key.label, 'agree', ['p256', 'x25519'] as const);
      requireUsage(key.label, 'agree');
      // An off-curve P-256 point is refused before it reaches the token (the invalid-curve attack).
      if (!isValidAgreementPublicKey(group, peerPublicKey)) throw peerKeyRefused(group);
      const secretHandle = this.#newHandle();
      const host = this.derivation === 'host';
      const label: KeyLabel = { owner, kind: 'secret', extractable: false, host };
      if (group === 'p256') {
        const secret = deriveEcdh(this.#token, key.key, peerPublicKey, genericSecretTemplate(secretHandle, label, true, host));
        return this.#keys.remember({ handle: secretHandle, label, ephemeral: true, key: secret });
      }
      const secret = this.#host.withBytes(key, X25519, (scalar) => sharedSecret('x25519', scalar, peerPublicKey));
      if (secret === undefined) throw peerKeyRefused(group);
      return this.#host.import(owner, 'secret', secret, { ephemeral: true });
    });
  }

  async deriveKey(owner: string, spec: DeriveKeySpec): Promise<KeyHandle> {
    return this.#live.usingKeys(() => deriveInHost(this.#inHost, owner, spec));
  }

  async mac(owner: string, handle: KeyHandle, message: Uint8Array): Promise<Uint8Array> {
    return this.#live.usingKeys(() => {
      assertBytes(message, 'message');
      const key = this.#key(owner, handle);
      requireKind(key.label, 'mac', ['psk256', 'session256'] as const);
      return this.#token.sign('CKM_SHA256_HMAC', key.key, message, 32);
    });
  }

  /** The optional bulk form of `mac` (pseudonym rotation): one lookup, then CKM_SHA256_HMAC per message in the token. */
  async macMany(owner: string, handle: KeyHandle, messages: readonly Uint8Array[]): Promise<Uint8Array[]> {
    return this.#live.usingKeys(() => {
      checkMessages(messages);
      const key = this.#key(owner, handle);
      requireKind(key.label, 'mac', ['psk256', 'session256'] as const);
      return messages.map((message) => this.#token.sign('CKM_SHA256_HMAC', key.key, message, 32));
    });
  }

  async verifyMac(owner: string, handle: KeyHandle, message: Uint8Array, tag: Uint8Array): Promise<boolean> {
    return this.#live.usingKeys(() => {
      assertBytes(message, 'message');
      const key = this.#key(owner, handle);
      requireKind(key.label, 'mac', ['psk256', 'session256'] as const);
      if (!(tag instanceof Uint8Array) || tag.length !== 32) return false;
      return this.#token.verify('CKM_SHA256_HMAC', key.key, message, tag);
    });
  }

  async seal(owner: string, handle: KeyHandle, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return this.#live.usingKeys(() => sealInHost(this.#inHost, owner, handle, plaintext, aad));
  }

  async open(owner: string, handle: KeyHandle, sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#live.usingKeys(() => openInHost(this.#inHost, owner, handle, sealed, aad));
  }

  async wrap(owner: string, handle: KeyHandle, wrappingKey: KeyHandle, aad: Uint8Array): Promise<Uint8Array> {
    return this.#live.usingKeys(() => wrapInHost(this.#inHost, owner, handle, wrappingKey, aad));
  }

  async unwrap(owner: string, wrappingKey: KeyHandle, wrapped: Uint8Array, aad: Uint8Array, spec: UnwrapSpec): Promise<KeyHandle | undefined> {
    return this.#live.usingKeys(() => unwrapInHost(this.#inHost, owner, wrappingKey, wrapped, aad, spec));
  }

  /** C_DestroyObject on the key and its public half: the token no longer holds it (crypto-shredding, shred.ts). */
  async destroy(owner: string, handle: KeyHandle): Promise<void> {
    return this.#live.recovering(() => {
      this.#requireOwner(owner);
      requireHandle(handle);
      shred(this.#token, this.#keys, owner, handle);
    });
  }

  /** One page of the owner's keys, found by their labels in the token (key-listing.ts). */
  async listKeys(owner: string, request?: KeyListRequest): Promise<KeyListPage> {
    return this.#live.recovering(() => {
      this.#requireOwner(owner);
      const checked = checkListRequest(request);
      const page = this.#token.run(() => listTokenKeys(this.#token.module, this.#token.session, owner, checked));
      // SoftHSM2 answers a search on a deleted token, or a logged-out session, with no objects rather than an error.
      if (page.keys.length === 0) this.#token.confirmServing();
      return page;
    });
  }

  #requireOwner(owner: string): void {
    requireServedOwner(this.#owners, owner);
  }

  #key(owner: string, handle: KeyHandle): TokenKey {
    this.#requireOwner(owner);
    return this.#lookup.heldBy(owner, handle);
  }

  #newHandle(): KeyHandle {
    return `key_${toBase64url(this.#random(18))}` as KeyHandle;
  }
}
