import { ownerView } from '../domain/ports/owner-view.ts';
import { describe, expect, it } from 'vitest';
import { p256 } from '@noble/curves/nist.js';
import { generateAgreementKey } from '../domain/crypto/agreement.ts';
import { fromBase64url } from '../domain/crypto/base64url.ts';
import { ProvisioningOutcome } from '../domain/protocols/enrolment-messages.ts';
import { ProvisioningClient } from '../adapters/protocols/enrolment/node-client.ts';
import { verifyProvisioningReceipt } from '../domain/protocols/provisioning-receipt.ts';
import { recordedReceipt } from '../domain/protocols/recorded-receipt.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { TrustAnchors } from '../domain/x509/chain.ts';
import { containsSecret, seededRandom, toBase64url } from './crypto-fixtures.ts';
import { EF_ID, EF_OWNER, NODE_ID, NODE_OWNER, provision, provisioningWorld, type ProvisioningWorld } from './provisioning-protocol.fixtures.ts';
import { der, importPublicKey, intermediateCa, issue, rootCa } from './x509-fixtures.ts';
import { keysMadeBy } from './support/keys-made.ts';
import { refusalWithMessage as refusal } from './support/protocol-refusal.ts';

const KINDS = ['psk256', 'ed25519', 'p256'] as const;


describe('remote provisioning (seed 003 clause 11.2.1), both ends', () => {
  for (const bootstrapKind of KINDS) {
    for (const credentialKind of KINDS) {
      it(`${bootstrapKind} bootstrap provisions a ${credentialKind} credential that both ends describe identically`, async () => {
        const world = await provisioningWorld({ bootstrapKind });
        const { result, outcome } = await provision(world, credentialKind);
        expect(ProvisioningOutcome.parse(outcome)).toEqual(outcome);
        expect(outcome).toMatchObject({
          nodeId: NODE_ID,
          enrolmentFunctionId: EF_ID,
          bootstrapFingerprint: world.bootstrap.descriptor.fingerprint,
          serviceParameters: { cseId: 'CSE-IN-1', m2mSubId: 'sub-42' },
          transcriptHash: result.transcriptHash,
          credential: { kind: credentialKind, owner: { kind: 'node', id: NODE_ID } },
        });
        expect(result.credential).toEqual(outcome.credential);
        const nodeKey = await world.nodeSe.describe(NODE_OWNER, result.handle);
        expect(nodeKey.fingerprint).toBe(outcome.credential.fingerprint);
        if (credentialKind === 'psk256') {
          // The same 256-bit key on both sides, and the Enrolment Function's copy can no longer leave.
          const efKey = await world.efSe.describe(EF_OWNER, outcome.credentialKeyHandle as KeyHandle);
          expect(efKey).toMatchObject({ kind: 'psk256', fingerprint: outcome.credential.fingerprint, extractable: false, ephemeral: false });
          expect(world.efSe.exportForTest(outcome.credentialKeyHandle as KeyHandle)).toEqual(world.nodeSe.exportForTest(result.handle));
        } else {
          // Generated on the node: the server has no handle for it, only the public key it was shown.
          expect(outcome.credentialKeyHandle).toBeUndefined();
          expect(toBase64url(nodeKey.publicKey as Uint8Array)).toBe(outcome.credential.kind !== 'psk256' && outcome.credential.publicKey);
        }
        const secret = world.nodeSe.exportForTest(result.handle);
        expect(containsSecret(outcome, secret)).toBe(false);
      });
    }
  }

  it('an asymmetric receipt is verifiable later by anyone with the public keys (non-repudiation)', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'p256' });
    const { outcome } = await provision(world, 'ed25519');
    const keys = { bootstrap: world.bootstrap.descriptor, enrolmentFunction: { kind: 'ed25519' as const, publicKey: toBase64url(world.efSigningPublicKey) } };
    expect(verifyProvisioningReceipt(recordedReceipt(outcome), keys)).toMatchObject({
      ok: true,
      proofs: { bootstrap: 'verified', credential: 'verified', enrolmentFunction: 'verified' },
    });
    const altered = recordedReceipt({ ...outcome, transcriptHash: toBase64url(new Uint8Array(32)) });
    expect(verifyProvisioningReceipt(altered, keys)).toMatchObject({ ok: false, code: 'bad_signature', path: 'bootstrapProof' });
  });

  it('P-256 bootstrap with a P-256 Enrolment Function key delivers a PSK over P-256 ECDH', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'p256', efSigningKind: 'p256' });
    const { messages, outcome } = await provision(world, 'psk256');
    expect(messages.hello.ephemeral?.group).toBe('p256');
    expect(outcome.credential.kind).toBe('psk256');
  });
});

describe('remote provisioning with a manufacturer (IDevID) certificate (SER-SWIR-04)', async () => {
  const root = await rootCa();
  const deviceCa = await intermediateCa(root, 'CN=Acme Device CA');
  const certify = (notAfter = '2040-01-01') => async (publicKey: Uint8Array) => {
    const leaf = der(await issue(deviceCa, { subject: `CN=${NODE_ID}, O=Acme Meters`, publicKey: await importPublicKey('p256', publicKey), notAfter }));
    return { leaf, chain: [leaf, der(deviceCa.cert)] };
  };

  it('verifies the chain against the trust anchors and records fingerprint, subject and validity', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'p256', certificate: certify(), trustAnchors: TrustAnchors.fromDer([der(root.cert)]) });
    const { outcome } = await provision(world, 'p256');
    expect(outcome.manufacturerCertificate).toMatchObject({
      subject: `CN=${NODE_ID}, O=Acme Meters`,
      notAfter: '2040-01-01T00:00:00.000Z',
      anchorFingerprint: expect.stringMatching(/^sha256:/),
    });
  });

  it('refuses a chain to an unknown trust anchor', async () => {
    const otherRoot = await rootCa('CN=Unknown Root');
    const world = await provisioningWorld({ bootstrapKind: 'p256', certificate: certify(), trustAnchors: TrustAnchors.fromDer([der(otherRoot.cert)]) });
    const session = await world.client.start({ credentialKind: 'p256' });
    expect(await refusal(() => world.ef.acceptHello(session.hello))).toMatchObject({ step: 'provisioning.hello', reason: 'certificate_rejected', message: expect.stringContaining('unknown_trust_anchor') });
  });

  it('refuses an expired manufacturer certificate', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'p256', certificate: certify('2029-06-01'), trustAnchors: TrustAnchors.fromDer([der(root.cert)]) });
    const session = await world.client.start({ credentialKind: 'p256' });
    expect(await refusal(() => world.ef.acceptHello(session.hello))).toMatchObject({ reason: 'certificate_rejected', message: expect.stringContaining('certificate_expired') });
  });

  it('refuses at the hello a chain that does not certify the bootstrap key, whatever is recorded', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'p256', certificate: certify(), trustAnchors: TrustAnchors.fromDer([der(root.cert)]) });
    const session = await world.client.start({ credentialKind: 'p256' });
    // Without its leaf, the chain ends at the device CA: a CA certificate, not the device's.
    const withoutLeaf = { ...session.hello, certificateChain: session.hello.certificateChain?.slice(1) };
    expect(await refusal(() => world.ef.acceptHello(withoutLeaf))).toMatchObject({ reason: 'certificate_rejected' });
    // Another device's certificate from the same CA: it verifies, but certifies another key.
    const other = der(await issue(deviceCa, { subject: 'CN=other-node, O=Acme Meters', publicKey: await importPublicKey('p256', p256.getPublicKey(p256.utils.randomSecretKey())) }));
    const otherDevice = { ...session.hello, certificateChain: [toBase64url(other), toBase64url(der(deviceCa.cert))] };
    expect(await refusal(() => world.ef.acceptHello(otherDevice))).toMatchObject({ reason: 'credential_mismatch', message: expect.stringContaining('does not certify the bootstrap key') });
    expect(world.ef.sessionCount).toBe(0);
  });

  it('challenges a chain that certifies the key but is not the recorded certificate, and tells its holder at the auth', async () => {
    // The device presents a certificate the manufacturer issued again for its key; another one was recorded.
    let recordedInstead: string | undefined;
    const world = await provisioningWorld({
      bootstrapKind: 'p256',
      certificate: async (publicKey) => {
        recordedInstead = toBase64url((await certify()(publicKey)).leaf);
        return certify()(publicKey);
      },
      trustAnchors: TrustAnchors.fromDer([der(root.cert)]),
      tamperBootstrap: (d) => ({ ...d, certificate: recordedInstead } as typeof d),
    });
    const session = await world.client.start({ credentialKind: 'p256' });
    expect(session.hello.certificateChain?.[0]).not.toBe(recordedInstead);
    const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
    expect(await refusal(() => world.ef.acceptAuth(auth))).toMatchObject({
      step: 'provisioning.auth',
      reason: 'credential_mismatch',
      message: expect.stringContaining('does not match the recorded manufacturer certificate'),
    });
  });
});

describe('remote provisioning refusals', () => {
  const withOtherNodeKey = async (world: ProvisioningWorld) => {
    const kind = world.bootstrap.descriptor.kind;
    const other = await world.nodeSe.generate(NODE_OWNER, kind);
    return new ProvisioningClient({
      nodeId: NODE_ID,
      se: ownerView(world.nodeSe, NODE_OWNER),
      now: world.clock.now,
      random: seededRandom('impostor'),
      bootstrap: { handle: other, descriptor: world.bootstrap.descriptor },
      enrolmentFunction: { id: EF_ID, publicKey: { kind: 'ed25519', bytes: world.efSigningPublicKey } },
    });
  };

  for (const kind of ['ed25519', 'p256'] as const) {
    it(`${kind}: a node holding another key than its recorded bootstrap is refused at auth (bad_signature)`, async () => {
      const world = await provisioningWorld({ bootstrapKind: kind });
      const session = await (await withOtherNodeKey(world)).start({ credentialKind: 'psk256' });
      const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
      expect(await refusal(() => world.ef.acceptAuth(auth))).toMatchObject({ step: 'provisioning.auth', reason: 'bad_signature' });
    });
  }

  it('psk256: a node holding another PSK detects it at the challenge (bad_mac), so nothing is delivered', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'psk256' });
    const session = await (await withOtherNodeKey(world)).start({ credentialKind: 'psk256' });
    const challenge = await world.ef.acceptHello(session.hello);
    expect(await refusal(() => session.acceptChallenge(challenge))).toMatchObject({ step: 'provisioning.challenge', reason: 'bad_mac' });
  });

  it('a node refuses an Enrolment Function that does not hold the pinned key (bad_signature)', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'ed25519' });
    const impostorKey = (await world.efSe.describe(EF_OWNER, await world.efSe.generate(EF_OWNER, 'ed25519'))).publicKey as Uint8Array;
    const client = new ProvisioningClient({
      nodeId: NODE_ID,
      se: ownerView(world.nodeSe, NODE_OWNER),
      now: world.clock.now,
      random: seededRandom('pinned'),
      bootstrap: { handle: world.bootstrap.nodeHandle, descriptor: world.bootstrap.descriptor },
      enrolmentFunction: { id: EF_ID, publicKey: { kind: 'ed25519', bytes: impostorKey } },
    });
    const session = await client.start({ credentialKind: 'p256' });
    expect(await refusal(async () => session.acceptChallenge(await world.ef.acceptHello(session.hello)))).toMatchObject({ reason: 'bad_signature' });
  });

  it('a replayed hello is refused: its nonce was already used (SER-012)', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'ed25519' });
    const session = await world.client.start({ credentialKind: 'p256' });
    await world.ef.acceptHello(session.hello);
    expect(await refusal(() => world.ef.acceptHello(session.hello))).toMatchObject({ step: 'provisioning.hello', reason: 'replayed_nonce' });
  });

  it('a hello sent more than the allowed clock skew ago is stale', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'ed25519' });
    const session = await world.client.start({ credentialKind: 'p256' });
    world.clock.advance(301_000);
    expect(await refusal(() => world.ef.acceptHello(session.hello))).toMatchObject({ reason: 'stale' });
  });

  it('an answer after the session timeout is stale, and the session is gone afterwards', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'psk256' });
    const session = await world.client.start({ credentialKind: 'psk256' });
    const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
    world.clock.advance(121_000);
    expect(await refusal(() => world.ef.acceptAuth(auth))).toMatchObject({ step: 'provisioning.auth', reason: 'stale' });
    expect(await refusal(() => world.ef.acceptAuth(auth))).toMatchObject({ reason: 'unknown_session' });
  });

  // Not refused at the hello: a decoy challenge, as any credential the node cannot use; only its holder, once its proof
  // verifies, is told why (seeds 002/004; adapters/protocols/shared/decoy.ts).
  it('an expired, not-yet-valid or revoked bootstrap credential gets a challenge, and its holder is told why at the auth', async () => {
    const cases = [
      [{ bootstrapValidity: { notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2029-12-31T00:00:00.000Z' } }, 'credential_expired'],
      [{ bootstrapValidity: { notBefore: '2031-01-01T00:00:00.000Z', notAfter: '2032-01-01T00:00:00.000Z' } }, 'credential_not_yet_valid'],
      [{ bootstrapRevoked: true }, 'credential_revoked'],
    ] as const;
    for (const [options, reason] of cases) {
      const world = await provisioningWorld({ bootstrapKind: 'p256', ...options });
      const session = await world.client.start({ credentialKind: 'p256' });
      const auth = await session.acceptChallenge(await world.ef.acceptHello(session.hello));
      expect(await refusal(() => world.ef.acceptAuth(auth))).toMatchObject({ step: 'provisioning.auth', reason });
    }
  });

  it('an unknown node, or a bootstrap fingerprint other than the recorded one, gets a challenge and then a failed proof', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'ed25519' });
    const session = await world.client.start({ credentialKind: 'p256' });
    expect(await world.ef.acceptHello({ ...session.hello, nodeId: 'node-9999' })).toMatchObject({ type: 'provisioning.challenge', nodeId: 'node-9999' });
    const other = await provisioningWorld({ bootstrapKind: 'ed25519', seed: 'other', tamperBootstrap: (d) => ({ ...d, fingerprint: `sha256:${'0'.repeat(64)}` }) });
    const s2 = await other.client.start({ credentialKind: 'p256' });
    const auth = await s2.acceptChallenge(await other.ef.acceptHello(s2.hello));
    expect(await refusal(() => other.ef.acceptAuth(auth))).toMatchObject({ step: 'provisioning.auth', reason: 'bad_signature' });
  });

  it('a hello for another Enrolment Function is wrong_identity', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'ed25519' });
    const session = await world.client.start({ credentialKind: 'p256' });
    expect(await refusal(() => world.ef.acceptHello({ ...session.hello, enrolmentFunctionId: 'MEF-2' }))).toMatchObject({ reason: 'wrong_identity' });
  });

  it('a credential kind the Enrolment Function does not offer is unsupported', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'ed25519', ef: { allowedCredentialKinds: ['p256'] } });
    const session = await world.client.start({ credentialKind: 'psk256' });
    expect(await refusal(() => world.ef.acceptHello(session.hello))).toMatchObject({ reason: 'unsupported' });
  });

  for (const bootstrapKind of KINDS) {
    it(`${bootstrapKind}: a swapped node ephemeral key is detected by the node at the challenge`, async () => {
      const world = await provisioningWorld({ bootstrapKind });
      const session = await world.client.start({ credentialKind: 'psk256', agreementGroup: 'x25519' });
      const attacker = generateAgreementKey('x25519', seededRandom('attacker'));
      const swapped = { ...session.hello, ephemeral: { group: 'x25519' as const, publicKey: toBase64url(attacker.publicKey) } };
      const challenge = await world.ef.acceptHello(swapped);
      expect(await refusal(() => session.acceptChallenge(challenge))).toMatchObject({
        step: 'provisioning.challenge',
        reason: bootstrapKind === 'psk256' ? 'bad_mac' : 'bad_signature',
      });
    });

    it(`${bootstrapKind}: a swapped Enrolment Function ephemeral key is refused by the node`, async () => {
      const world = await provisioningWorld({ bootstrapKind });
      const session = await world.client.start({ credentialKind: 'psk256', agreementGroup: 'x25519' });
      const challenge = await world.ef.acceptHello(session.hello);
      const attacker = generateAgreementKey('x25519', seededRandom('attacker'));
      const swapped = { ...challenge, ephemeral: { group: 'x25519' as const, publicKey: toBase64url(attacker.publicKey) } };
      expect(await refusal(() => session.acceptChallenge(swapped))).toMatchObject({ reason: bootstrapKind === 'psk256' ? 'bad_mac' : 'bad_signature' });
    });
  }

  it('a receipt before the node authenticated is refused, and leaves the session going (review 224: refused before any proof)', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'ed25519' });
    const session = await world.client.start({ credentialKind: 'p256' });
    const challenge = await world.ef.acceptHello(session.hello);
    const early = {
      type: 'provisioning.receipt', version: 2, sessionId: challenge.sessionId, credentialFingerprint: `sha256:${'a'.repeat(64)}`,
      completedAt: world.clock.now().toISOString(), bootstrapProof: 'AA', credentialProof: 'AA',
    };
    expect(await refusal(() => world.ef.acceptReceipt(early))).toMatchObject({ reason: 'unknown_session' });
    const auth = await session.acceptChallenge(challenge);
    const delivery = await world.ef.acceptAuth(auth);
    expect(delivery).toMatchObject({ type: 'provisioning.delivery', sessionId: challenge.sessionId });
  });

  it('a refused run cannot be continued on the node either', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'ed25519' });
    const session = await world.client.start({ credentialKind: 'p256' });
    const challenge = await world.ef.acceptHello(session.hello);
    await refusal(() => session.acceptChallenge({ ...challenge, proof: toBase64url(new Uint8Array(64)) }));
    expect(await refusal(() => session.acceptChallenge(challenge))).toMatchObject({ reason: 'unknown_session' });
  });

  it('a node that offers a low-order X25519 ephemeral key is refused at the hello, before any key is made', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'ed25519' });
    const made = keysMadeBy(world.efSe, ['generate']);
    const session = await world.client.start({ credentialKind: 'psk256', agreementGroup: 'x25519' });
    // A misbehaving node offers an all-zero key (RFC 7748 §6.1: all-zero output). It was refused only at the auth,
    // after a challenge and the run's keys (review 207; the u with the top bit set and all-0xff too:
    // an-x25519-ephemeral-that-is-no-key-is-refused-at-the-hello.test.ts); found in an earlier review, that refusal had
    // left the PSK made for the delivery alive. Now no run begins: no key is made at all.
    const hello = { ...session.hello, ephemeral: { group: 'x25519' as const, publicKey: toBase64url(new Uint8Array(32)) } };
    expect(await refusal(() => world.ef.acceptHello(hello))).toMatchObject({ step: 'provisioning.hello', reason: 'invalid_ephemeral_key' });
    expect(made).toEqual([]);
  });

  it('the PSK crosses the wire only encrypted: its bytes are in no message, in any encoding', async () => {
    const world = await provisioningWorld({ bootstrapKind: 'ed25519' });
    const { messages, result } = await provision(world, 'psk256');
    const psk = world.nodeSe.exportForTest(result.handle);
    expect(containsSecret(messages, psk)).toBe(false);
    expect(containsSecret(Buffer.from(fromBase64url(messages.delivery.wrappedKey as string)), psk)).toBe(false);
  });
});
