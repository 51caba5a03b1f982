import { ownerView } from '../domain/ports/owner-view.ts';
import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryReplayCache } from '../adapters/driven/replay-cache/replay-cache.ts';
import { Registrar } from '../adapters/protocols/association/registrar.ts';
import { Registree } from '../adapters/protocols/association/registree.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import type { CredentialDescriptor, CredentialKind } from '../domain/crypto/credential.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { EnrolmentFunction } from '../adapters/protocols/enrolment/enrolment-function.ts';
import { ProvisioningClient } from '../adapters/protocols/enrolment/node-client.ts';
import type { NodeProvisioningResult, ProvisioningOutcome } from '../domain/protocols/enrolment-messages.ts';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/embedded.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { now, rate } from './stats.ts';

/**
 * Remote provisionings/s (all five messages, both ends) and association handshakes/s (three messages, both
 * ends), per credential kind, on the embedded Secure Environment in memory and on disk. Keys made by each run
 * are destroyed after it, so the key store stays the same size throughout.
 */
const KINDS: readonly CredentialKind[] = ['psk256', 'ed25519', 'p256'];
const MAF = 'maf:bench';
const BUDGET_MS = 1_000;
const random = (n: number) => webcrypto.getRandomValues(new Uint8Array(n));
const clock = () => new Date();
const cache = () => new MemoryReplayCache({ windowSeconds: 900, maxEntries: 1_000_000 });

const measure = async (run: () => Promise<void>): Promise<{ count: number; ms: number }> => {
  for (let i = 0; i < 20; i++) await run(); // warm-up: JIT, prepared statements
  let count = 0;
  const start = now();
  while (now() - start < BUDGET_MS) {
    await run();
    count++;
  }
  return { count, ms: now() - start };
};

const openStores = (onDisk: boolean) => {
  if (!onDisk) {
    const memory = () => EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: clock, random });
    return { infra: memory(), node: memory(), cleanup: () => undefined };
  }
  const dirs = [mkdtempSync(join(tmpdir(), 'credence-bench-infra-')), mkdtempSync(join(tmpdir(), 'credence-bench-node-'))];
  const [infra, node] = dirs.map((d) => EmbeddedSecureEnvironment.open(secureEnvironmentConfigForDataDir(d), { now: clock, random })) as [
    EmbeddedSecureEnvironment,
    EmbeddedSecureEnvironment,
  ];
  return { infra, node, cleanup: () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })) };
};

const benchKind = async (kind: CredentialKind, onDisk: boolean, report: (line: string) => void) => {
  const { infra, node, cleanup } = openStores(onDisk);
  const nodeOwner = 'node:bench';
  const signing = await infra.generate(MAF, 'p256');
  const signingPublic = (await infra.describe(MAF, signing)).publicKey as Uint8Array;
  // Asymmetric bootstrap of the same kind as the credential (a P-256 IDevID-style key for PSK credentials).
  const bootstrapKind = kind === 'psk256' ? 'p256' : kind;
  const bootstrapHandle = await node.generate(nodeOwner, bootstrapKind);
  const bootstrapPublic = (await node.describe(nodeOwner, bootstrapHandle)).publicKey as Uint8Array;
  const validity = { notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2099-01-01T00:00:00.000Z' };
  const bootstrap: CredentialDescriptor = {
    kind: bootstrapKind,
    fingerprint: publicKeyFingerprint(bootstrapKind, bootstrapPublic),
    publicKey: toBase64url(bootstrapPublic),
    validity,
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
  });
  const client = new ProvisioningClient({
    nodeId: 'bench-node',
    se: ownerView(node, nodeOwner),
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
  const where = onDisk ? 'on disk' : 'in memory';
  const provisioning = await measure(async () => {
    const { outcome, result } = await provisionOnce();
    await node.destroy(nodeOwner, result.handle);
    if (outcome.credentialKeyHandle) await infra.destroy(MAF, outcome.credentialKeyHandle);
  });
  report(`remote provisioning, ${kind} credential (${bootstrapKind} bootstrap, SE ${where}): ${rate(provisioning.count, provisioning.ms)}`);

  const { outcome, result } = await provisionOnce();
  const registrar = new Registrar({
    id: 'CSE-bench',
    se: ownerView(infra, MAF),
    now: clock,
    random,
    replayCache: cache(),
    signingKey: { kind: 'p256', handle: signing },
    resolveCredential: async () => ({ descriptor: outcome.credential, ...(outcome.credentialKeyHandle ? { handle: outcome.credentialKeyHandle as KeyHandle } : {}) }),
  });
  const registree = new Registree({
    id: 'CSE-bench-node',
    se: ownerView(node, nodeOwner),
    now: clock,
    random,
    credential: { handle: result.handle, descriptor: result.credential },
    configuration: { registrarId: 'CSE-bench', registrarKey: { kind: 'p256', publicKey: toBase64url(signingPublic) } },
  });
  const handshakes = await measure(async () => {
    const handshake = await registree.start({ lifetimeSeconds: 3600 });
    const { finish } = await handshake.acceptChallenge(await registrar.acceptHello(handshake.hello));
    const { confirm, outcome: theirs } = await registrar.acceptFinish(finish);
    const mine = await handshake.acceptConfirm(confirm);
    for (const handle of [mine.sessionKeys.send, mine.sessionKeys.receive]) await node.destroy(nodeOwner, handle);
    for (const handle of [theirs.sessionKeys.send, theirs.sessionKeys.receive]) await infra.destroy(MAF, handle);
  });
  report(`association handshake, ${kind} credential (SE ${where}): ${rate(handshakes.count, handshakes.ms)}`);
  infra.close();
  node.close();
  cleanup();
};

export async function benchSecurity(report: (line: string) => void): Promise<void> {
  for (const onDisk of [false, true]) for (const kind of KINDS) await benchKind(kind, onDisk, report);
}
