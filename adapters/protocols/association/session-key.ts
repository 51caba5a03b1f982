import { concatBytes, utf8 } from '../../../domain/crypto/bytes.ts';
import { proofInput } from '../../../domain/crypto/transcript.ts';
import { agreeOrRefuse } from '../shared/agree-or-refuse.ts';
import { destroyQuietly } from '../shared/destroy-quietly.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';

export const PROTOCOL = 'association';

export const proofFor = (role: 'registrar' | 'registree', purpose: string, transcriptHash: Uint8Array): Uint8Array =>
  proofInput(PROTOCOL, role, purpose, transcriptHash);

/**
 * What a Finished MAC (key confirmation, RFC 8446 4.4.4) covers: the sender's role and the transcript hash through the
 * sender's message. The Registrar's is over the transcript through its confirm, so over the lifetime and expiry it
 * grants there: changing either changes the hash, and the Registree's check of the MAC fails.
 */
export const keyConfirmationFor = (role: 'registrar' | 'registree', transcriptHash: Uint8Array): Uint8Array =>
  proofInput(PROTOCOL, role, 'finished', transcriptHash);

const LABEL = 'credence/association/v1';
const HANDSHAKE_SECRET = utf8(`${LABEL}/handshake-secret`);
const NO_SALT = new Uint8Array(0);

/** The four keys of a run; each is a handle in the Secure Environment of the end that derived it. */
export interface AssociationKeys {
  /** Protects what the Registree sends to the Registrar: its send key, the Registrar's receive key. */
  readonly registreeToRegistrar: KeyHandle;
  /** Protects what the Registrar sends to the Registree: its send key, the Registree's receive key. */
  readonly registrarToRegistree: KeyHandle;
  /** MACs the Registree's finish (ephemeral; destroyed once the handshake ends). */
  readonly registreeFinished: KeyHandle;
  /** MACs the Registrar's confirm (ephemeral; destroyed once the handshake ends). */
  readonly registrarFinished: KeyHandle;
}

const KEYS: readonly (readonly [keyof AssociationKeys, string, boolean])[] = [
  // name, label, ephemeral (a Finished key lives only as long as the handshake; the traffic keys as long as the association)
  ['registreeToRegistrar', 'registree-to-registrar', false],
  ['registrarToRegistree', 'registrar-to-registree', false],
  ['registreeFinished', 'registree-finished', true],
  ['registrarFinished', 'registrar-finished', true],
];

/** HKDF-Expand info: a distinct label per key, bound to the transcript hash (RFC 8446 7.1 Derive-Secret). */
const keyInfo = (label: string, transcriptHash: Uint8Array): Uint8Array =>
  concatBytes(utf8(`${LABEL}/${label}`), new Uint8Array([0]), transcriptHash);

/**
 * The key schedule (seed 003 clause 11.3.2 (b); security issue 11 item 11), after TLS 1.3 (RFC 8446 section 7.1)
 * over HKDF-SHA256 (RFC 5869), every step inside the Secure Environment (`agree`, `deriveKey`), no key extractable:
 *
 *   th   = transcript hash through the challenge: both identities, the key exchange mode, both nonces, both
 *          ephemeral public keys (not the lifetime: granted after the Registree's proof, in the confirm, whose
 *          Finished MAC with k_registrar-finished covers it)
 *   dhe  = ECDH(own ephemeral, peer ephemeral)    (the Registree's ephemeral key destroyed once used, the Registrar's when its run ends)
 *   hs   = HKDF(salt = th, IKM = PSK || dhe, info = "handshake-secret")      psk_dhe_ke (RFC 8446 4.2.9)
 *        = HKDF(salt = th, IKM = dhe,       info = "handshake-secret")      signature_dhe
 *   k_x  = HKDF(salt = "", IKM = hs, info = label_x || 0x00 || th)   for x in
 *          registree-to-registrar, registrar-to-registree (the session keys, one per direction),
 *          registree-finished, registrar-finished (key confirmation, RFC 8446 4.4.4)
 *
 * `deriveKey` is HKDF-Extract then HKDF-Expand; the port has no separate Extract, so the handshake secret is a
 * key of its own and each k_x is Expand with its own info over an Extract of it (an Extract of a uniform 256-bit
 * key is again a PRF output). TLS 1.3 chains the PSK into the Extract salt; a salt cannot be a key handle here,
 * so the PSK and the ECDH secret are concatenated as the Extract input instead (the concatenation combiner of
 * draft-ietf-tls-hybrid-design): hs stays secret while either part does. Forward secrecy in
 * PSK mode follows: the PSK and the whole transcript, without an ephemeral private key, do not give dhe, hence
 * neither hs nor any key of the run. The ephemeral keys and the ECDH secret never leave the Secure Environment
 * and are destroyed here (the Registrar's own ephemeral key excepted: its run's, see `deriveAssociationKeys`); so is hs.
 */
export type FinishedKeys = Pick<AssociationKeys, 'registreeFinished' | 'registrarFinished'>;
export type TrafficKeys = Pick<AssociationKeys, 'registreeToRegistrar' | 'registrarToRegistree'>;

const expand = async (se: OwnedSecureEnvironment, handshakeSecret: KeyHandle, transcriptHash: Uint8Array, names: readonly (keyof AssociationKeys)[]) => {
  const keys: Partial<Record<keyof AssociationKeys, KeyHandle>> = {};
  try {
    for (const [name, label, ephemeral] of KEYS.filter(([n]) => names.includes(n))) {
      keys[name] = await se.deriveKey({
        inputs: [handshakeSecret],
        salt: NO_SALT,
        info: keyInfo(label, transcriptHash),
        kind: 'session256',
        ...(ephemeral ? { ephemeral } : {}),
      });
    }
    return keys;
  } catch (error) {
    await destroyQuietly(se, ...Object.values(keys));
    throw error;
  }
};

/** Whether `deriveHandshake` destroys the ephemeral key it agrees with, once used, or leaves it to its owner. */
export type OwnEphemeral = 'destroy' | 'keep';

/**
 * The first half, for an end that must confirm its peer before it keeps anything: the Finished keys and the
 * handshake secret hs, both ephemeral (in memory only), so a run abandoned before the confirm leaves no stored key.
 * The ECDH secret is destroyed whatever happens; `source.ephemeral` too unless `ephemeral` is 'keep'.
 */
export const deriveHandshake = async (
  se: OwnedSecureEnvironment,
  source: { readonly ephemeral: KeyHandle; readonly peerPublicKey: Uint8Array; readonly psk?: KeyHandle | undefined },
  transcriptHash: Uint8Array,
  step: string,
  ephemeral: OwnEphemeral = 'destroy',
): Promise<{ readonly finished: FinishedKeys; readonly handshakeSecret: KeyHandle }> => {
  let secret: KeyHandle | undefined;
  let handshakeSecret: KeyHandle | undefined;
  try {
    secret = await agreeOrRefuse(se, source.ephemeral, source.peerPublicKey, step);
    handshakeSecret = await se.deriveKey({
      inputs: source.psk ? [source.psk, secret] : [secret],
      salt: transcriptHash,
      info: HANDSHAKE_SECRET,
      kind: 'session256',
      ephemeral: true,
    });
    const finished = (await expand(se, handshakeSecret, transcriptHash, ['registreeFinished', 'registrarFinished'])) as FinishedKeys;
    return { finished, handshakeSecret };
  } catch (error) {
    await destroyQuietly(se, handshakeSecret);
    throw error;
  } finally {
    await destroyQuietly(se, secret, ephemeral === 'destroy' ? source.ephemeral : undefined);
  }
};

/** The second half, once the peer is confirmed: the two session keys (stored), and hs is destroyed. */
export const deriveTraffic = async (se: OwnedSecureEnvironment, handshakeSecret: KeyHandle, transcriptHash: Uint8Array): Promise<TrafficKeys> => {
  try {
    return (await expand(se, handshakeSecret, transcriptHash, ['registreeToRegistrar', 'registrarToRegistree'])) as TrafficKeys;
  } finally {
    await destroyQuietly(se, handshakeSecret);
  }
};

/**
 * Both halves at once, for the end that checks its peer's Finished in the same step (the Registrar). Its ephemeral
 * key is kept: it is the run's, which a finish whose key confirmation does not check leaves going (failed-proofs.ts),
 * so the genuine finish after an altered copy must still find it (review 274: destroyed here, the run could not
 * finish and its genuine finish was told `unknown_session`). The run's session `cleanup` destroys it when the run ends.
 */
export const deriveAssociationKeys = async (
  se: OwnedSecureEnvironment,
  source: { readonly ephemeral: KeyHandle; readonly peerPublicKey: Uint8Array; readonly psk?: KeyHandle | undefined },
  transcriptHash: Uint8Array,
  step: string,
): Promise<AssociationKeys> => {
  const { finished, handshakeSecret } = await deriveHandshake(se, source, transcriptHash, step, 'keep');
  try {
    return { ...finished, ...(await deriveTraffic(se, handshakeSecret, transcriptHash)) };
  } catch (error) {
    await destroyQuietly(se, finished.registreeFinished, finished.registrarFinished);
    throw error;
  }
};

/** Every key of a run, for a run that failed. */
export const destroyAssociationKeys = async (se: OwnedSecureEnvironment, keys: AssociationKeys | undefined): Promise<void> => {
  if (keys) await destroyQuietly(se, keys.registreeToRegistrar, keys.registrarToRegistree, keys.registreeFinished, keys.registrarFinished);
};
