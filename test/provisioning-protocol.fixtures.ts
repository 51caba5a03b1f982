/** Builds both ends of remote provisioning for tests: a node with a bootstrap credential and an Enrolment Function. */
import { ownerView } from '../domain/ports/owner-view.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import type { CredentialDescriptor, CredentialKind } from '../domain/crypto/credential.ts';
import { EnrolmentFunction, type EnrolmentFunctionOptions } from '../adapters/protocols/enrolment/enrolment-function.ts';
import { ProvisioningClient } from '../adapters/protocols/enrolment/node-client.ts';
import type { InspectableSecureEnvironment as EmbeddedSecureEnvironment } from './support/inspectable-secure-environment.ts';
import type { KeyHandle, SecureEnvironment } from '../domain/ports/secure-environment.ts';
import type { TrustAnchors } from '../domain/x509/chain.ts';
import { fakeClock, memorySecureEnvironment, replayCache, seededRandom, toBase64url } from './crypto-fixtures.ts';

export const EF_ID = 'MEF-1';
export const EF_OWNER = 'maf:infrastructure';
export const NODE_ID = 'node-0001';
export const NODE_OWNER = `node:${NODE_ID}`;

export interface ProvisioningWorld {
  readonly clock: ReturnType<typeof fakeClock>;
  readonly nodeSe: EmbeddedSecureEnvironment;
  readonly efSe: EmbeddedSecureEnvironment;
  readonly ef: EnrolmentFunction;
  readonly client: ProvisioningClient;
  readonly bootstrap: { descriptor: CredentialDescriptor; nodeHandle: KeyHandle; efHandle?: KeyHandle };
  readonly efSigningPublicKey: Uint8Array;
}

export interface WorldOptions {
  readonly bootstrapKind: CredentialKind;
  readonly seed?: string;
  /** Replaces the bootstrap the Enrolment Function knows (e.g. a different key than the node holds). */
  readonly tamperBootstrap?: (d: CredentialDescriptor) => CredentialDescriptor;
  readonly certificate?: (publicKey: Uint8Array) => Promise<{ leaf: Uint8Array; chain: Uint8Array[] }>;
  readonly trustAnchors?: TrustAnchors;
  readonly bootstrapValidity?: { notBefore: string; notAfter: string };
  readonly bootstrapRevoked?: boolean;
  readonly ef?: Partial<EnrolmentFunctionOptions>;
  readonly efSigningKind?: 'ed25519' | 'p256';
}

export const provisioningWorld = async (options: WorldOptions): Promise<ProvisioningWorld> => {
  const seed = options.seed ?? `provisioning-${options.bootstrapKind}`;
  const clock = fakeClock();
  const nodeSe = memorySecureEnvironment(`${seed}/node`, clock.now);
  const efSe = memorySecureEnvironment(`${seed}/ef`, clock.now);
  const validity = options.bootstrapValidity ?? { notBefore: '2029-01-01T00:00:00.000Z', notAfter: '2040-01-01T00:00:00.000Z' };
  const owner = { kind: 'node' as const, id: NODE_ID };
  let descriptor: CredentialDescriptor;
  let nodeHandle: KeyHandle;
  let efHandle: KeyHandle | undefined;
  let chain: Uint8Array[] | undefined;
  if (options.bootstrapKind === 'psk256') {
    // Factory pre-provisioning of a PSK (seed 003 clause 11.2.1 scenario 1): the same key in both Secure
    // Environments, transferred here the way a factory would, wrapped under a transport key both hold.
    efHandle = await efSe.generate(EF_OWNER, 'psk256', { extractable: true });
    nodeHandle = await importInto(efSe, EF_OWNER, efHandle, nodeSe, NODE_OWNER);
    descriptor = { kind: 'psk256', fingerprint: (await efSe.describe(EF_OWNER, efHandle)).fingerprint, validity, owner };
  } else {
    nodeHandle = await nodeSe.generate(NODE_OWNER, options.bootstrapKind);
    const publicKey = (await nodeSe.describe(NODE_OWNER, nodeHandle)).publicKey as Uint8Array;
    const certified = options.certificate ? await options.certificate(publicKey) : undefined;
    chain = certified?.chain;
    descriptor = {
      kind: options.bootstrapKind,
      fingerprint: publicKeyFingerprint(options.bootstrapKind, publicKey),
      publicKey: toBase64url(publicKey),
      validity,
      owner,
      ...(certified ? { certificate: toBase64url(certified.leaf) } : {}),
    };
  }
  const efSigning = await efSe.generate(EF_OWNER, options.efSigningKind ?? 'ed25519');
  const efSigningPublicKey = (await efSe.describe(EF_OWNER, efSigning)).publicKey as Uint8Array;
  const known = options.tamperBootstrap ? options.tamperBootstrap(descriptor) : descriptor;
  const ef = new EnrolmentFunction({
    id: EF_ID,
    se: ownerView(efSe, EF_OWNER),
    now: clock.now,
    random: seededRandom(`${seed}/ef-protocol`),
    replayCache: replayCache(),
    resolveBootstrap: async (nodeId) =>
      nodeId === NODE_ID
        ? { descriptor: known, ...(efHandle ? { handle: efHandle } : {}), ...(options.bootstrapRevoked ? { revoked: true } : {}) }
        : undefined,
    signingKey: { kind: options.efSigningKind ?? 'ed25519', handle: efSigning },
    ...(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
    credentialLifetimeSeconds: 365 * 24 * 3600,
    serviceParameters: () => ({ cseId: 'CSE-IN-1', m2mSubId: 'sub-42' }),
    ...options.ef,
  });
  const client = new ProvisioningClient({
    nodeId: NODE_ID,
    se: ownerView(nodeSe, NODE_OWNER),
    now: clock.now,
    random: seededRandom(`${seed}/node-protocol`),
    bootstrap: { handle: nodeHandle, descriptor, ...(chain ? { certificateChain: chain } : {}) },
    enrolmentFunction: { id: EF_ID, publicKey: { kind: options.efSigningKind ?? 'ed25519', bytes: efSigningPublicKey } },
  });
  return { clock, nodeSe, efSe, ef, client, bootstrap: { descriptor, nodeHandle, ...(efHandle ? { efHandle } : {}) }, efSigningPublicKey };
};

/** Copies an extractable key between two Secure Environments without its bytes leaving either in plaintext. */
export const importInto = async (
  from: SecureEnvironment,
  fromOwner: string,
  handle: KeyHandle,
  to: SecureEnvironment,
  toOwner: string,
): Promise<KeyHandle> => {
  // A transport key agreed by ECDH between the two environments, then the key wrapped under it.
  const a = await from.generate(fromOwner, 'x25519', { ephemeral: true });
  const b = await to.generate(toOwner, 'x25519', { ephemeral: true });
  const spec = { salt: new Uint8Array(32), info: new TextEncoder().encode('test transport'), kind: 'session256' as const, ephemeral: true };
  const kekA = await from.deriveKey(fromOwner, { ...spec, inputs: [await from.agree(fromOwner, a, (await to.describe(toOwner, b)).publicKey as Uint8Array)] });
  const kekB = await to.deriveKey(toOwner, { ...spec, inputs: [await to.agree(toOwner, b, (await from.describe(fromOwner, a)).publicKey as Uint8Array)] });
  const kind = (await from.describe(fromOwner, handle)).kind as 'psk256';
  const wrapped = await from.wrap(fromOwner, handle, kekA, new Uint8Array(0));
  const imported = await to.unwrap(toOwner, kekB, wrapped, new Uint8Array(0), { kind });
  if (!imported) throw new Error('transport failed');
  return imported;
};

/** Runs the five messages end to end and returns both ends' results. */
export const provision = async (world: ProvisioningWorld, credentialKind: CredentialKind, credentialId?: string) => {
  const session = await world.client.start({ credentialKind, ...(credentialId !== undefined ? { credentialId } : {}) });
  const challenge = await world.ef.acceptHello(session.hello);
  const auth = await session.acceptChallenge(challenge);
  const delivery = await world.ef.acceptAuth(auth);
  const { receipt, result } = await session.acceptDelivery(delivery);
  const outcome = await world.ef.acceptReceipt(receipt);
  return { session, messages: { hello: session.hello, challenge, auth, delivery, receipt }, result, outcome };
};
