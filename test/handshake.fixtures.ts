/** Builds both ends of the association handshake for tests: a Registree with a credential and a Registrar CSE. */
import { ownerView } from '../domain/ports/owner-view.ts';
import type { CredentialDescriptor, CredentialKind } from '../domain/crypto/credential.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { Registrar } from '../adapters/protocols/association/registrar.ts';
import type { RegistrarOptions } from '../adapters/protocols/association/registrar-options.ts';
import { Registree } from '../adapters/protocols/association/registree.ts';
import type { InspectableSecureEnvironment as EmbeddedSecureEnvironment } from './support/inspectable-secure-environment.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { concatBytes, utf8 } from '../domain/crypto/bytes.ts';
import { hkdfSha256, hmacSha256 } from '../domain/crypto/hash.ts';
import { proofInput, Transcript, withoutFields } from '../domain/crypto/transcript.ts';
import type { GrantedLifetime } from '../domain/protocols/association-lifetime.ts';
import { fakeClock, memorySecureEnvironment, replayCache, seededRandom, toBase64url } from './crypto-fixtures.ts';
import { importInto } from './provisioning-protocol.fixtures.ts';

export const REGISTRAR_ID = 'CSE-IN-1';
export const REGISTRAR_OWNER = `cse:${REGISTRAR_ID}`;
export const REGISTREE_ID = 'CSE-MN-7';
export const REGISTREE_OWNER = `cse:${REGISTREE_ID}`;

export interface HandshakeWorldOptions {
  readonly kind: CredentialKind;
  readonly seed?: string;
  readonly validity?: { notBefore: string; notAfter: string };
  readonly revoked?: boolean;
  readonly registrar?: Partial<RegistrarOptions>;
  /** The Registrar knows a different key for the Registree than the one it holds. */
  readonly wrongCredentialAtRegistrar?: boolean;
  readonly registrarSigningKind?: 'ed25519' | 'p256';
  readonly se?: { registree: EmbeddedSecureEnvironment; registrar: EmbeddedSecureEnvironment };
}

export const handshakeWorld = async (options: HandshakeWorldOptions) => {
  const seed = options.seed ?? `handshake-${options.kind}`;
  const clock = fakeClock();
  const registreeSe = options.se?.registree ?? memorySecureEnvironment(`${seed}/registree`, clock.now);
  const registrarSe = options.se?.registrar ?? memorySecureEnvironment(`${seed}/registrar`, clock.now);
  const validity = options.validity ?? { notBefore: '2029-06-01T00:00:00.000Z', notAfter: '2031-01-01T00:00:00.000Z' };
  const owner = { kind: 'cse' as const, id: REGISTREE_ID };
  let descriptor: CredentialDescriptor;
  let registreeHandle: KeyHandle;
  let registrarHandle: KeyHandle | undefined;
  if (options.kind === 'psk256') {
    registrarHandle = await registrarSe.generate(REGISTRAR_OWNER, 'psk256', { extractable: true });
    registreeHandle = await importInto(registrarSe, REGISTRAR_OWNER, registrarHandle, registreeSe, REGISTREE_OWNER);
    descriptor = { kind: 'psk256', fingerprint: (await registrarSe.describe(REGISTRAR_OWNER, registrarHandle)).fingerprint, validity, owner };
    if (options.wrongCredentialAtRegistrar) registrarHandle = await registrarSe.generate(REGISTRAR_OWNER, 'psk256');
  } else {
    registreeHandle = await registreeSe.generate(REGISTREE_OWNER, options.kind);
    const publicKey = (await registreeSe.describe(REGISTREE_OWNER, registreeHandle)).publicKey as Uint8Array;
    descriptor = { kind: options.kind, fingerprint: publicKeyFingerprint(options.kind, publicKey), publicKey: toBase64url(publicKey), validity, owner };
  }
  let known = descriptor;
  if (options.wrongCredentialAtRegistrar && descriptor.kind !== 'psk256') {
    const other = await registrarSe.generate(REGISTRAR_OWNER, descriptor.kind);
    known = { ...descriptor, publicKey: toBase64url((await registrarSe.describe(REGISTRAR_OWNER, other)).publicKey as Uint8Array) };
  }
  const signingKind = options.registrarSigningKind ?? 'p256';
  const signing = await registrarSe.generate(REGISTRAR_OWNER, signingKind);
  const signingPublicKey = (await registrarSe.describe(REGISTRAR_OWNER, signing)).publicKey as Uint8Array;
  const cache = replayCache();
  const registrar = new Registrar({
    id: REGISTRAR_ID,
    se: ownerView(registrarSe, REGISTRAR_OWNER),
    now: clock.now,
    random: seededRandom(`${seed}/registrar-protocol`),
    replayCache: cache,
    // The fingerprint is the lookup key, as it is in the engine; a wrong key for the right fingerprint is the test.
    resolveCredential: async (id, fingerprint) =>
      id === REGISTREE_ID && fingerprint === descriptor.fingerprint
        ? { descriptor: known, ...(registrarHandle ? { handle: registrarHandle } : {}), ...(options.revoked ? { revoked: true } : {}) }
        : undefined,
    signingKey: { kind: signingKind, handle: signing },
    ...options.registrar,
  });
  const registree = new Registree({
    id: REGISTREE_ID,
    se: ownerView(registreeSe, REGISTREE_OWNER),
    now: clock.now,
    random: seededRandom(`${seed}/registree-protocol`),
    credential: { handle: registreeHandle, descriptor },
    configuration: { registrarId: REGISTRAR_ID, registrarKey: { kind: signingKind, publicKey: toBase64url(signingPublicKey) } },
  });
  return { clock, registreeSe, registrarSe, registrar, registree, descriptor, registreeHandle, registrarHandle, cache };
};

export type HandshakeWorld = Awaited<ReturnType<typeof handshakeWorld>>;

export const associate = async (world: HandshakeWorld, lifetimeSeconds = 3600) => {
  const handshake = await world.registree.start({ lifetimeSeconds });
  const challenge = await world.registrar.acceptHello(handshake.hello);
  const { finish } = await handshake.acceptChallenge(challenge);
  const { confirm, outcome: registrarOutcome } = await world.registrar.acceptFinish(finish);
  const registreeOutcome = await handshake.acceptConfirm(confirm);
  return { handshake, messages: { hello: handshake.hello, challenge, finish, confirm }, registreeOutcome, registrarOutcome };
};

/**
 * A Registrar that grants what it likes, with a key confirmation that verifies: an honest run up to the confirm, then
 * the Registrar's Finished key recomputed outside any Secure Environment (the schedule of session-key.ts, from the PSK
 * and the ECDH secret the Registrar computed) and the confirm's MAC made over `grant` in place of the honest one. PSK
 * worlds only (the PSK is read with exportForTest). `forged(honest grant)` is the honest confirm: the forgery is sound.
 */
export const rogueConfirm = async (world: HandshakeWorld, requestedSeconds: number) => {
  const secrets: Uint8Array[] = [];
  const agree = world.registrarSe.agree.bind(world.registrarSe);
  world.registrarSe.agree = async (owner, handle, peer) => {
    const secret = await agree(owner, handle, peer);
    secrets.push(world.registrarSe.exportForTest(secret));
    return secret;
  };
  const handshake = await world.registree.start({ lifetimeSeconds: requestedSeconds });
  const challenge = await world.registrar.acceptHello(handshake.hello);
  const { finish } = await handshake.acceptChallenge(challenge);
  const { confirm } = await world.registrar.acceptFinish(finish);
  world.registrarSe.agree = agree;
  const psk = world.registrarSe.exportForTest(world.registrarHandle as KeyHandle);
  const label = (name: string) => utf8(`credence/association/v1/${name}`);
  const forged = (grant: GrantedLifetime) => {
    const transcript = new Transcript('association');
    transcript.absorb(handshake.hello.type, handshake.hello);
    const th = transcript.absorb(challenge.type, withoutFields(challenge, 'proof'));
    transcript.absorb(finish.type, withoutFields(finish, 'proof', 'keyConfirmation'));
    const { keyConfirmation: _honest, ...rest } = confirm;
    const unsigned = { ...rest, ...grant };
    const final = transcript.absorb(unsigned.type, unsigned);
    const hs = hkdfSha256(concatBytes(psk, secrets[0]!), th, label('handshake-secret'), 32);
    const registrarFinished = hkdfSha256(hs, new Uint8Array(0), concatBytes(label('registrar-finished'), new Uint8Array([0]), th), 32);
    return { ...unsigned, keyConfirmation: toBase64url(hmacSha256(registrarFinished, proofInput('association', 'registrar', 'finished', final))) };
  };
  return { handshake, confirm, forged };
};
