import { webcrypto } from 'node:crypto';
import { MemoryReplayCache } from '../adapters/driven/replay-cache/replay-cache.ts';
import { Registrar } from '../adapters/protocols/association/registrar.ts';
import { Registree } from '../adapters/protocols/association/registree.ts';
import { EnrolmentFunction } from '../adapters/protocols/enrolment/enrolment-function.ts';
import { ProvisioningClient } from '../adapters/protocols/enrolment/node-client.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import type { CredentialDescriptor, CredentialKind } from '../domain/crypto/credential.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { ownerView } from '../domain/ports/owner-view.ts';
import type { KeyHandle, SecureEnvironment } from '../domain/ports/secure-environment.ts';
import type { NodeProvisioningResult, ProvisioningOutcome } from '../domain/protocols/enrolment-messages.ts';


/** Runs one benchmark device may begin per replay window: more than any measured loop makes. */
export const BENCH_RUNS_PER_INITIATOR = 10_000_000;
/**
 * Both ends of remote provisioning and of the association handshake for the protocol benchmarks (security.ts,
 * hsm.ts): the infrastructure (Enrolment Function, Registrar) on `infra`, the node on `node`. Every round destroys
 * the keys it made, so the key stores stay the same size throughout.
 */
export const MAF = 'maf:bench';
const NODE_OWNER = 'node:bench';
export const random = (n: number): Uint8Array => webcrypto.getRandomValues(new Uint8Array(n));
export const clock = (): Date => new Date();
const cache = () => new MemoryReplayCache({ windowSeconds: 900, maxEntries: 1_000_000 });

export const associationRig = async (infra: SecureEnvironment, node: SecureEnvironment, kind: CredentialKind, bootstrapKind: 'p256' | 'ed25519') => {
  const signing = await infra.generate(MAF, 'p256');
  const signingPublic = (await infra.describe(MAF, signing)).publicKey as Uint8Array;
  const bootstrapHandle = await node.generate(NODE_OWNER, bootstrapKind);
  const bootstrapPublic = (await node.describe(NODE_OWNER, bootstrapHandle)).publicKey as Uint8Array;
  const bootstrap: CredentialDescriptor = {
    kind: bootstrapKind,
    fingerprint: publicKeyFingerprint(bootstrapKind, bootstrapPublic),
    publicKey: toBase64url(bootstrapPublic),
    validity: { notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2099-01-01T00:00:00.000Z' },
    owner: { kind: 'node', id: 'bench-node' },
  };
  const ef = new EnrolmentFunction({
    id: 'MEF-bench',
    se: ownerView(infra, MAF),
    now: clock,
    random,
    replayCache: cache(),
    resolveBootstrap: async () => ({ descriptor: bootstrap }),
    signingKey: { kind: 'p256', handle: signing },
    credentialLifetimeSeconds: 86_400 * 365,
    // One device runs every measured run: the bound on one initiator's runs per window would stop it at 32.
    runsPerInitiator: BENCH_RUNS_PER_INITIATOR,
  });
  const client = new ProvisioningClient({
    nodeId: 'bench-node',
    se: ownerView(node, NODE_OWNER),
    now: clock,
    random,
    bootstrap: { handle: bootstrapHandle, descriptor: bootstrap },
    enrolmentFunction: { id: 'MEF-bench', publicKey: { kind: 'p256', bytes: signingPublic } },
  });
  const provisionOnce = async (): Promise<{ outcome: ProvisioningOutcome; result: NodeProvisioningResult }> => {
    const session = await client.start({ credentialKind: kind });
    const auth = await session.acceptChallenge(await ef.acceptHello(session.hello));
    const { receipt, result } = await session.acceptDelivery(await ef.acceptAuth(auth));
    return { outcome: await ef.acceptReceipt(receipt), result };
  };

  /** One remote provisioning (all five messages, both ends), its credential keys destroyed afterwards. */
  const provisioning = async (): Promise<void> => {
    const { outcome, result } = await provisionOnce();
    await node.destroy(NODE_OWNER, result.handle);
    if (outcome.credentialKeyHandle) await infra.destroy(MAF, outcome.credentialKeyHandle);
  };

  /** Provisions one credential, then returns one association handshake over it (three messages, both ends). */
  const handshakes = async (): Promise<() => Promise<void>> => {
    const { outcome, result } = await provisionOnce();
    const registrar = new Registrar({
      id: 'CSE-bench',
      se: ownerView(infra, MAF),
      now: clock,
      random,
      replayCache: cache(),
      signingKey: { kind: 'p256', handle: signing },
      runsPerInitiator: BENCH_RUNS_PER_INITIATOR,
      resolveCredential: async () => ({ descriptor: outcome.credential, ...(outcome.credentialKeyHandle ? { handle: outcome.credentialKeyHandle as KeyHandle } : {}) }),
    });
    const registree = new Registree({
      id: 'CSE-bench-node',
      se: ownerView(node, NODE_OWNER),
      now: clock,
      random,
      credential: { handle: result.handle, descriptor: result.credential },
      configuration: { registrarId: 'CSE-bench', registrarKey: { kind: 'p256', publicKey: toBase64url(signingPublic) } },
    });
    return async () => {
      const handshake = await registree.start({ lifetimeSeconds: 3600 });
      const { finish } = await handshake.acceptChallenge(await registrar.acceptHello(handshake.hello));
      const { confirm, outcome: theirs } = await registrar.acceptFinish(finish);
      const mine = await handshake.acceptConfirm(confirm);
      for (const handle of [mine.sessionKeys.send, mine.sessionKeys.receive]) await node.destroy(NODE_OWNER, handle);
      for (const handle of [theirs.sessionKeys.send, theirs.sessionKeys.receive]) await infra.destroy(MAF, handle);
    };
  };
  return { provisioning, handshakes };
};
