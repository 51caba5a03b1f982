/** Builds both ends of the association handshake for tests: a Registree with a credential and a Registrar CSE. */
import { ownerView } from '../domain/ports/owner-view.ts';
import type { CredentialDescriptor, CredentialKind } from '../domain/crypto/credential.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { Registrar, type RegistrarOptions } from '../adapters/protocols/association/registrar.ts';
import { Registree } from '../adapters/protocols/association/registree.ts';
import type { InspectableSecureEnvironment as EmbeddedSecureEnvironment } from './support/inspectable-secure-environment.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
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
