import { ownerView } from '../domain/ports/owner-view.ts';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fromBase64url } from '../domain/crypto/base64url.ts';
import type { CredentialDescriptor, CredentialKind } from '../domain/crypto/credential.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { Registrar } from '../adapters/protocols/association/registrar.ts';
import { Registree } from '../adapters/protocols/association/registree.ts';
import { EnrolmentFunction } from '../adapters/protocols/enrolment/enrolment-function.ts';
import { ProvisioningClient } from '../adapters/protocols/enrolment/node-client.ts';
import { secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { InspectableSecureEnvironment } from './support/inspectable-secure-environment.ts';
import type { KeyHandle, SecureEnvironment } from '../domain/ports/secure-environment.ts';
import { containsSecret, fakeClock, replayCache, seededRandom, toBase64url } from './crypto-fixtures.ts';
import { importInto } from './provisioning-protocol.fixtures.ts';

/**
 * Wraps a Secure Environment and, for the test's eyes only, copies out every key the moment it is created
 * (generated, agreed, derived, unwrapped; ephemeral ones included) so the scan below knows every secret.
 */
const recording = (se: InspectableSecureEnvironment, secrets: Uint8Array[]): SecureEnvironment => {
  const keep = async (handle: Promise<KeyHandle | undefined>) => {
    const h = await handle;
    if (h !== undefined) secrets.push(se.exportForTest(h));
    return h;
  };
  return {
    generate: (o, k, opt) => keep(se.generate(o, k, opt)) as Promise<KeyHandle>,
    agree: (o, h, p) => keep(se.agree(o, h, p)) as Promise<KeyHandle>,
    deriveKey: (o, s) => keep(se.deriveKey(o, s)) as Promise<KeyHandle>,
    unwrap: (o, k, w, a, s) => keep(se.unwrap(o, k, w, a, s)),
    describe: (o, h) => se.describe(o, h),
    sign: (o, h, m) => se.sign(o, h, m),
    mac: (o, h, m) => se.mac(o, h, m),
    verifyMac: (o, h, m, t) => se.verifyMac(o, h, m, t),
    seal: (o, h, p, a) => se.seal(o, h, p, a),
    open: (o, h, s, a) => se.open(o, h, s, a),
    wrap: (o, h, k, a) => se.wrap(o, h, k, a),
    destroy: (o, h) => se.destroy(o, h),
    listKeys: (o, r) => se.listKeys(o, r),
  };
};

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('no secret at rest or in outcomes after a full scenario', () => {
  it('provisioning of every kind, associations on the new credentials, then revocation: no PSK, private key, session key or KEK in any database file or outcome', async () => {
    const clock = fakeClock();
    const secrets: Uint8Array[] = [];
    const infraDir = mkdtempSync(join(tmpdir(), 'credence-infra-'));
    const nodeDir = mkdtempSync(join(tmpdir(), 'credence-node-'));
    dirs.push(infraDir, nodeDir);
    const infraStore = InspectableSecureEnvironment.open(secureEnvironmentConfigForDataDir(infraDir), { now: clock.now, random: seededRandom('infra') });
    const nodeStore = InspectableSecureEnvironment.open(secureEnvironmentConfigForDataDir(nodeDir), { now: clock.now, random: seededRandom('node') });
    const infra = recording(infraStore, secrets);
    const node = recording(nodeStore, secrets);
    // The Enrolment Function and the Registrar CSE act for one infrastructure owner (the M2M Authentication
    // Function of clause 11.2.1), so a PSK provisioned by one is usable by the other.
    const MAF = 'maf:infrastructure';
    const signing = await infra.generate(MAF, 'p256');
    const signingPublic = (await infra.describe(MAF, signing)).publicKey as Uint8Array;
    const outcomes: unknown[] = [];
    const provisioned = new Map<string, { descriptor: CredentialDescriptor; handle?: KeyHandle }>();
    const registrar = new Registrar({
      id: 'CSE-IN-1',
      se: ownerView(infra, MAF),
      now: clock.now,
      random: seededRandom('registrar'),
      replayCache: replayCache(),
      signingKey: { kind: 'p256', handle: signing },
      resolveCredential: async (_id, fingerprint) => provisioned.get(fingerprint),
    });

    const kinds: CredentialKind[] = ['psk256', 'ed25519', 'p256'];
    for (const [i, bootstrapKind] of kinds.entries()) {
      const nodeId = `meter-${i}`;
      const owner = `node:${nodeId}`;
      const validity = { notBefore: '2029-01-01T00:00:00.000Z', notAfter: '2035-01-01T00:00:00.000Z' };
      let bootstrap: CredentialDescriptor;
      let bootstrapHandle: KeyHandle;
      let infraBootstrapHandle: KeyHandle | undefined;
      if (bootstrapKind === 'psk256') {
        infraBootstrapHandle = await infra.generate(MAF, 'psk256', { extractable: true });
        bootstrapHandle = await importInto(infra, MAF, infraBootstrapHandle, node, owner);
        bootstrap = { kind: 'psk256', fingerprint: (await infra.describe(MAF, infraBootstrapHandle)).fingerprint, validity, owner: { kind: 'node', id: nodeId } };
      } else {
        bootstrapHandle = await node.generate(owner, bootstrapKind);
        const publicKey = (await node.describe(owner, bootstrapHandle)).publicKey as Uint8Array;
        bootstrap = {
          kind: bootstrapKind,
          fingerprint: publicKeyFingerprint(bootstrapKind, publicKey),
          publicKey: toBase64url(publicKey),
          validity,
          owner: { kind: 'node', id: nodeId },
        };
      }
      const ef = new EnrolmentFunction({
        id: 'MEF-1',
        se: ownerView(infra, MAF),
        now: clock.now,
        random: seededRandom(`ef-${i}`),
        replayCache: replayCache(),
        resolveBootstrap: async () => ({ descriptor: bootstrap, ...(infraBootstrapHandle ? { handle: infraBootstrapHandle } : {}) }),
        signingKey: { kind: 'p256', handle: signing },
        credentialLifetimeSeconds: 86_400 * 30,
      });
      const client = new ProvisioningClient({
        nodeId,
        se: ownerView(node, owner),
        now: clock.now,
        random: seededRandom(`client-${i}`),
        bootstrap: { handle: bootstrapHandle, descriptor: bootstrap },
        enrolmentFunction: { id: 'MEF-1', publicKey: { kind: 'p256', bytes: signingPublic } },
      });
      for (const credentialKind of kinds) {
        const session = await client.start({ credentialKind });
        const auth = await session.acceptChallenge(await ef.acceptHello(session.hello));
        const { receipt, result } = await session.acceptDelivery(await ef.acceptAuth(auth));
        const outcome = await ef.acceptReceipt(receipt);
        outcomes.push(outcome);
        provisioned.set(outcome.credential.fingerprint, { descriptor: outcome.credential, ...(outcome.credentialKeyHandle ? { handle: outcome.credentialKeyHandle } : {}) });
        const registree = new Registree({
          id: `CSE-${nodeId}`,
          se: ownerView(node, owner),
          now: clock.now,
          random: seededRandom(`registree-${i}-${credentialKind}`),
          credential: { handle: result.handle, descriptor: result.credential },
          configuration: { registrarId: 'CSE-IN-1', registrarKey: { kind: 'p256', publicKey: toBase64url(signingPublic) } },
        });
        const handshake = await registree.start({ lifetimeSeconds: 3600 });
        const { finish } = await handshake.acceptChallenge(await registrar.acceptHello(handshake.hello));
        const { confirm, outcome: theirs } = await registrar.acceptFinish(finish);
        const mine = await handshake.acceptConfirm(confirm);
        outcomes.push(mine, theirs, finish, confirm);
        // Revocation: the engine shreds the association's and the credential's keys.
        for (const handle of [theirs.sessionKeys.send, theirs.sessionKeys.receive]) await infra.destroy(MAF, handle);
        if (outcome.credentialKeyHandle) await infra.destroy(MAF, outcome.credentialKeyHandle);
      }
    }
    infraStore.close();
    nodeStore.close();

    const keks = [infraDir, nodeDir].map((d) => fromBase64url(readFileSync(join(d, 'secure-environment.kek'), 'utf8').trim()));
    const everySecret = [...secrets, ...keks];
    expect(secrets.length).toBeGreaterThan(60);
    const files = [infraDir, nodeDir]
      .flatMap((d) => ['secure-environment.sqlite', 'secure-environment.sqlite-journal', 'secure-environment.wrapping-keys', 'secure-environment.wrapping-keys-journal'].map((f) => join(d, f)))
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f));
    for (const secret of everySecret) {
      for (const file of files) expect(containsSecret(file, secret)).toBe(false);
      // The outcomes themselves, walked: a key carried as bytes would not show in their JSON text (review 346).
      expect(containsSecret(outcomes, secret)).toBe(false);
    }
  });
});
