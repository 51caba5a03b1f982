import { webcrypto } from 'node:crypto';
import { ownerView } from '../domain/ports/owner-view.ts';
import { MemoryReplayCache } from '../adapters/driven/replay-cache/replay-cache.ts';
import { Registrar } from '../adapters/protocols/association/registrar.ts';
import { Registree } from '../adapters/protocols/association/registree.ts';
import { EnrolmentFunction } from '../adapters/protocols/enrolment/enrolment-function.ts';
import { ProvisioningClient } from '../adapters/protocols/enrolment/node-client.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import type { CredentialDescriptor, CredentialKind } from '../domain/crypto/credential.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import type { KeyHandle, SecureEnvironment } from '../domain/ports/secure-environment.ts';
import { softHsm, softHsmMissing } from '../test/support/softhsm.ts';
import { now, rate } from './stats.ts';

/**
 * Issue 16: sign (Ed25519, P-256), P-256 ECDH and HMAC per second through PKCS#11 on SoftHSM2 next to the embedded
 * Secure Environment in memory, and association handshakes per second with the Registrar's (and Enrolment
 * Function's) keys in the token. The token is made in a temporary folder by the tests' SoftHSM2 support (module
 * path from CREDENCE_TEST_PKCS11_MODULE); skipped, saying why, when SoftHSM2 is not installed.
 */
const MAF = 'maf:bench';
const BUDGET_MS = 1_000;
const random = (n: number) => webcrypto.getRandomValues(new Uint8Array(n));
const clock = () => new Date();
const cache = () => new MemoryReplayCache({ windowSeconds: 900, maxEntries: 1_000_000 });
const message = new TextEncoder().encode('a 64-byte message, about the size of a handshake transcript hash');

const measure = async (run: () => Promise<unknown>): Promise<string> => {
  for (let i = 0; i < 20; i++) await run();
  let count = 0;
  const start = now();
  while (now() - start < BUDGET_MS) {
    await run();
    count++;
  }
  return rate(count, now() - start);
};

const primitives = async (name: string, se: SecureEnvironment, report: (line: string) => void) => {
  const ed = await se.generate(MAF, 'ed25519');
  const p256 = await se.generate(MAF, 'p256');
  const agreement = await se.generate(MAF, 'p256', { usage: 'agree' });
  const peer = (await se.describe(MAF, await se.generate(MAF, 'p256', { usage: 'agree' }))).publicKey as Uint8Array;
  const psk = await se.generate(MAF, 'psk256');
  report(`${name}: sign Ed25519 ${await measure(() => se.sign(MAF, ed, message))}, sign P-256 ${await measure(() => se.sign(MAF, p256, message))}, ` +
    `ECDH P-256 ${await measure(async () => se.destroy(MAF, await se.agree(MAF, agreement, peer)))}, HMAC-SHA256 ${await measure(() => se.mac(MAF, psk, message))}`);
};

/** Handshakes/s with the infrastructure's keys in `infra`; the node on an embedded Secure Environment. */
const handshakes = async (name: string, infra: SecureEnvironment, kind: CredentialKind, report: (line: string) => void) => {
  const node = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: clock, random });
  const nodeOwner = 'node:bench';
  const signing = await infra.generate(MAF, 'p256');
  const signingPublic = (await infra.describe(MAF, signing)).publicKey as Uint8Array;
  const bootstrapHandle = await node.generate(nodeOwner, 'p256');
  const bootstrapPublic = (await node.describe(nodeOwner, bootstrapHandle)).publicKey as Uint8Array;
  const bootstrap: CredentialDescriptor = {
    kind: 'p256', fingerprint: publicKeyFingerprint('p256', bootstrapPublic), publicKey: toBase64url(bootstrapPublic),
    validity: { notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2099-01-01T00:00:00.000Z' }, owner: { kind: 'node', id: 'bench-node' },
  };
  const ef = new EnrolmentFunction({
    id: 'MEF-bench', se: ownerView(infra, MAF), now: clock, random, replayCache: cache(), resolveBootstrap: async () => ({ descriptor: bootstrap }),
    signingKey: { kind: 'p256', handle: signing }, credentialLifetimeSeconds: 86_400 * 365,
  });
  const client = new ProvisioningClient({
    nodeId: 'bench-node', se: ownerView(node, nodeOwner), now: clock, random, bootstrap: { handle: bootstrapHandle, descriptor: bootstrap },
    enrolmentFunction: { id: 'MEF-bench', publicKey: { kind: 'p256', bytes: signingPublic } },
  });
  const session = await client.start({ credentialKind: kind });
  const auth = await session.acceptChallenge(await ef.acceptHello(session.hello));
  const { receipt, result } = await session.acceptDelivery(await ef.acceptAuth(auth));
  const outcome = await ef.acceptReceipt(receipt);
  const registrar = new Registrar({
    id: 'CSE-bench', se: ownerView(infra, MAF), now: clock, random, replayCache: cache(), signingKey: { kind: 'p256', handle: signing },
    resolveCredential: async () => ({ descriptor: outcome.credential, ...(outcome.credentialKeyHandle ? { handle: outcome.credentialKeyHandle as KeyHandle } : {}) }),
  });
  const registree = new Registree({
    id: 'CSE-bench-node', se: ownerView(node, nodeOwner), now: clock, random, credential: { handle: result.handle, descriptor: result.credential },
    configuration: { registrarId: 'CSE-bench', registrarKey: { kind: 'p256', publicKey: toBase64url(signingPublic) } },
  });
  const perSecond = await measure(async () => {
    const handshake = await registree.start({ lifetimeSeconds: 3600 });
    const { finish } = await handshake.acceptChallenge(await registrar.acceptHello(handshake.hello));
    const { confirm, outcome: theirs } = await registrar.acceptFinish(finish);
    const mine = await handshake.acceptConfirm(confirm);
    for (const handle of [mine.sessionKeys.send, mine.sessionKeys.receive]) await node.destroy(nodeOwner, handle);
    for (const handle of [theirs.sessionKeys.send, theirs.sessionKeys.receive]) await infra.destroy(MAF, handle);
  });
  report(`association handshake, ${kind} credential, Registrar keys ${name}: ${perSecond}`);
  node.close();
};

export async function benchHsm(report: (line: string) => void): Promise<void> {
  if (softHsmMissing !== undefined) {
    report(`skipped: ${softHsmMissing.replace(/^PKCS#11 tests skipped: /, '')}`);
    return;
  }
  const hsm = softHsm();
  const token = hsm.token('bench');
  const embedded = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: clock, random });
  const pkcs11 = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
  try {
    await primitives('embedded SE (memory)', embedded, report);
    await primitives('PKCS#11 SoftHSM2', pkcs11, report);
    for (const kind of ['p256', 'ed25519', 'psk256'] as const) {
      await handshakes('in the embedded SE (memory)', embedded, kind, report);
      await handshakes('in SoftHSM2', pkcs11, kind, report);
    }
  } finally {
    pkcs11.close();
    embedded.close();
    hsm.cleanup();
  }
}
