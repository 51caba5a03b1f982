/**
 * Security issue 11 item 5 (SER-016): a provisioning receipt must bind the facts it is said to prove. The event
 * recorded an opaque transcript hash and two signatures over it, so changing notAfter, the owner, the Node-ID, the
 * M2M-Sub-ID or the Enrolment Function id in a recorded receipt still verified. The receipt now carries the facts
 * of a canonical statement (domain/protocols/provisioning-statement.ts) that the node and the Enrolment Function
 * sign; the offline verifier rebuilds it from the recorded facts and fails on any change.
 */
import { describe, expect, it } from 'vitest';
import type { CredentialKind } from '../domain/crypto/credential.ts';
import { CommandSchema } from '../domain/commands/index.ts';
import { CredentialProvisioned } from '../domain/events/credential.ts';
import { decodeStored } from '../domain/stored.ts';
import { recordedReceipt, type RecordedReceipt } from '../domain/protocols/recorded-receipt.ts';
import { verifyProvisioningReceipt } from '../domain/protocols/provisioning-receipt.ts';
import { receiptStatement, statementBytes } from '../domain/protocols/provisioning-statement.ts';
import { TrustAnchors } from '../domain/x509/chain.ts';
import { toBase64url } from './crypto-fixtures.ts';
import { EF_ID, NODE_ID, provision, provisioningWorld, type ProvisioningWorld } from './provisioning-protocol.fixtures.ts';
import { operator } from './support/fleet.ts';
import { der, importPublicKey, intermediateCa, issue, rootCa } from './x509-fixtures.ts';

const CREDENTIAL_ID = 'node-0001-svc';
const OTHER_FINGERPRINT = `sha256:${'0'.repeat(64)}`;

const keysOf = (world: ProvisioningWorld) => ({
  bootstrap: world.bootstrap.descriptor,
  enrolmentFunction: { kind: 'ed25519' as const, publicKey: toBase64url(world.efSigningPublicKey) },
});

/** A genuine run, recorded as the engine records it (through the event schema, as a store read would). */
const genuine = async (bootstrapKind: CredentialKind, credentialKind: CredentialKind, options: Parameters<typeof provisioningWorld>[0] = { bootstrapKind }) => {
  const world = await provisioningWorld({ seed: `binding-${bootstrapKind}-${credentialKind}`, ...options });
  const { outcome } = await provision(world, credentialKind, CREDENTIAL_ID);
  const data = CredentialProvisioned.parse({ credentialId: CREDENTIAL_ID, method: 'remote-provisioning', bootstrapCredentialId: 'node-0001-boot', receipt: recordedReceipt(outcome) });
  return { world, outcome, data, receipt: data.receipt as RecordedReceipt };
};

type Alteration = readonly [fact: string, alter: (r: RecordedReceipt) => RecordedReceipt];

/** One alteration per fact the receipt proves. Each keeps the receipt well-formed: only the signatures can refuse it. */
const FACTS: readonly Alteration[] = [
  ['credential.notAfter (validity extended)', (r) => ({ ...r, credential: { ...r.credential, notAfter: '2099-01-01T00:00:00.000Z' } })],
  ['credential.notBefore', (r) => ({ ...r, credential: { ...r.credential, notBefore: '2020-01-01T00:00:00.000Z' } })],
  ['credential.owner.id', (r) => ({ ...r, credential: { ...r.credential, owner: { kind: 'node', id: 'node-0002' } } })],
  ['credential.owner.kind', (r) => ({ ...r, credential: { ...r.credential, owner: { kind: 'cse', id: r.credential.owner.id } } })],
  ['nodeId', (r) => ({ ...r, nodeId: 'node-0002' })],
  ['serviceParameters.m2mSubId', (r) => ({ ...r, serviceParameters: { ...r.serviceParameters, m2mSubId: 'sub-43' } })],
  ['serviceParameters.m2mSubId removed', (r) => ({ ...r, serviceParameters: { cseId: r.serviceParameters.cseId } })],
  ['serviceParameters.cseId', (r) => ({ ...r, serviceParameters: { ...r.serviceParameters, cseId: 'CSE-IN-2' } })],
  ['enrolmentFunctionId', (r) => ({ ...r, enrolmentFunctionId: 'MEF-2' })],
  ['credentialId', (r) => ({ ...r, credentialId: 'node-0001-other' })],
  ['credential.fingerprint', (r) => ({ ...r, credential: { ...r.credential, fingerprint: OTHER_FINGERPRINT } })],
  ['bootstrapFingerprint', (r) => ({ ...r, bootstrapFingerprint: OTHER_FINGERPRINT })],
  ['transcriptHash', (r) => ({ ...r, transcriptHash: toBase64url(new Uint8Array(32)) })],
  ['completedAt', (r) => ({ ...r, completedAt: '2030-06-01T00:00:00.000Z' })],
  ['sessionId', (r) => ({ ...r, sessionId: 'AAAAAAAAAAAAAAAAAAAAAA' })],
];

describe('a recorded provisioning receipt binds every fact it proves (issue 11 item 5)', async () => {
  const runs = {
    'p256 bootstrap, ed25519 credential (every proof a signature)': await genuine('p256', 'ed25519'),
    'psk256 bootstrap, psk256 credential (only the Enrolment Function signs verifiably)': await genuine('psk256', 'psk256'),
    'ed25519 bootstrap, psk256 credential': await genuine('ed25519', 'psk256'),
  };

  for (const [name, run] of Object.entries(runs)) {
    it(`${name}: the genuine receipt verifies offline with public data only`, () => {
      const verified = verifyProvisioningReceipt(run.data, keysOf(run.world));
      expect(verified).toMatchObject({ ok: true, version: 2, statement: { credentialId: CREDENTIAL_ID, nodeId: NODE_ID, enrolmentFunctionId: EF_ID } });
      // The recorded receipt holds nothing secret, and the statement is rebuilt from it alone.
      expect(JSON.stringify(run.data)).not.toContain('credentialKeyHandle');
    });

    const facts: readonly Alteration[] = run.receipt.credential.kind === 'psk256' ? FACTS : [
      ...FACTS,
      ['credential.publicKey (with its fingerprint)', (r) => ({ ...r, credential: { ...r.credential, publicKey: run.world.bootstrap.descriptor.kind === 'psk256' ? '' : run.world.bootstrap.descriptor.publicKey } })],
      ['credential.kind', (r) => ({ ...r, credential: { ...r.credential, kind: 'p256' } })],
    ];
    it.each(facts)(`${name}: changing %s fails verification`, (_fact, alter) => {
      const receipt = alter(run.receipt);
      expect(CredentialProvisioned.safeParse({ ...run.data, receipt }).success).toBe(true);
      const verified = verifyProvisioningReceipt({ ...run.data, receipt }, keysOf(run.world));
      const direct = verifyProvisioningReceipt(receipt, keysOf(run.world));
      expect(verified.ok).toBe(false);
      expect(direct.ok).toBe(false);
    });
  }

  it('reports which proof fails and why, as a value', () => {
    const run = runs['p256 bootstrap, ed25519 credential (every proof a signature)'];
    const later = { ...run.receipt, credential: { ...run.receipt.credential, notAfter: '2099-01-01T00:00:00.000Z' } };
    expect(verifyProvisioningReceipt(later, keysOf(run.world))).toMatchObject({ ok: false, code: 'bad_signature', path: 'bootstrapProof' });
    expect(verifyProvisioningReceipt(run.data, keysOf(run.world), { issued: { ...run.receipt.credential, notAfter: '2099-01-01T00:00:00.000Z' } })).toMatchObject({
      ok: false, code: 'fact_mismatch', path: 'credential.notAfter',
    });
    expect(verifyProvisioningReceipt({ ...run.data, credentialId: 'node-0001-other' }, keysOf(run.world))).toMatchObject({ ok: false, code: 'fact_mismatch', path: 'credentialId' });
    expect(verifyProvisioningReceipt({ nonsense: true }, keysOf(run.world))).toMatchObject({ ok: false, code: 'malformed' });
  });

  it('each signer alone vouches for the facts; neither the node proof with an unpinned key nor none at all does', () => {
    const run = runs['p256 bootstrap, ed25519 credential (every proof a signature)'];
    const keys = keysOf(run.world);
    expect(verifyProvisioningReceipt(run.data, { bootstrap: keys.bootstrap })).toMatchObject({ ok: true, proofs: { bootstrap: 'verified', credential: 'verified', enrolmentFunction: 'no_key' } });
    expect(verifyProvisioningReceipt(run.data, { enrolmentFunction: keys.enrolmentFunction })).toMatchObject({ ok: true, proofs: { bootstrap: 'no_key', enrolmentFunction: 'verified' } });
    expect(verifyProvisioningReceipt(run.data, {})).toMatchObject({ ok: false, code: 'unverifiable' });
  });

  it('a PSK-only receipt: the node proofs are MACs, the Enrolment Function signature is what a third party can check', () => {
    const run = runs['psk256 bootstrap, psk256 credential (only the Enrolment Function signs verifiably)'];
    const keys = keysOf(run.world);
    expect(verifyProvisioningReceipt(run.data, keys)).toMatchObject({ ok: true, proofs: { bootstrap: 'mac', credential: 'mac', enrolmentFunction: 'verified' } });
    expect(verifyProvisioningReceipt(run.data, { bootstrap: keys.bootstrap })).toMatchObject({ ok: false, code: 'unverifiable', message: expect.stringContaining('MAC') });
    const { enrolmentFunctionSignature: _dropped, ...unsigned } = run.receipt;
    expect(verifyProvisioningReceipt(unsigned, keys)).toMatchObject({ ok: false, code: 'unverifiable' });
  });

  it('the statement is RFC 8785 canonical JSON with a name and a version, of public facts only', () => {
    const run = runs['p256 bootstrap, ed25519 credential (every proof a signature)'];
    const verified = verifyProvisioningReceipt(run.data, keysOf(run.world));
    if (!verified.ok) throw new Error(verified.message);
    const text = new TextDecoder().decode(statementBytes(verified.statement));
    expect(text.startsWith('{"bootstrap":{"fingerprint":')).toBe(true);
    expect(JSON.parse(text)).toMatchObject({ statement: 'credence/provisioning/receipt', version: 2, serviceParameters: { cseId: 'CSE-IN-1', m2mSubId: 'sub-42' } });
    expect(receiptStatement(verified.statement)).toEqual(verified.statement);
  });
});

describe('the manufacturer certificate the bootstrap was verified with is bound by its fingerprint', async () => {
  const root = await rootCa();
  const deviceCa = await intermediateCa(root, 'CN=Acme Device CA');
  const certificate = async (publicKey: Uint8Array) => {
    const leaf = der(await issue(deviceCa, { subject: `CN=${NODE_ID}, O=Acme Meters`, publicKey: await importPublicKey('p256', publicKey) }));
    return { leaf, chain: [leaf, der(deviceCa.cert)] };
  };

  it('verifies as recorded, and fails when the certificate fingerprint is changed', async () => {
    const run = await genuine('p256', 'ed25519', { bootstrapKind: 'p256', certificate, trustAnchors: TrustAnchors.fromDer([der(root.cert)]) });
    expect(run.receipt.manufacturerCertificate?.fingerprint).toMatch(/^sha256:/);
    expect(verifyProvisioningReceipt(run.data, keysOf(run.world))).toMatchObject({ ok: true, statement: { bootstrap: { manufacturerCertificateFingerprint: run.receipt.manufacturerCertificate?.fingerprint } } });
    const swapped = { ...run.receipt, manufacturerCertificate: { ...run.receipt.manufacturerCertificate!, fingerprint: OTHER_FINGERPRINT } };
    expect(verifyProvisioningReceipt(swapped, keysOf(run.world)).ok).toBe(false);
    const { manufacturerCertificate: _dropped, ...without } = run.receipt;
    expect(verifyProvisioningReceipt(without, keysOf(run.world)).ok).toBe(false);
  });
});

describe('receipts recorded before (v1) stay readable and are reported as not binding', () => {
  const v1 = {
    sessionId: 'AAAAAAAAAAAAAAAAAAAAAA',
    enrolmentFunctionId: 'MEF-1',
    transcriptHash: 'A'.repeat(43),
    bootstrapFingerprint: `sha256:${'1'.repeat(64)}`,
    bootstrapProof: 'A'.repeat(86),
    credentialProof: 'A'.repeat(86),
  };

  it('a stored v1 CredentialProvisioned event decodes, and its receipt verifies as "receipt v1: binds only the transcript hash"', () => {
    const decoded = decodeStored({
      id: 'e1', streamId: 'credential-cred-2', revision: 1n, position: 2n, type: 'CredentialProvisioned',
      data: { credentialId: 'cred-2', method: 'remote-provisioning', bootstrapCredentialId: 'cred-1', receipt: v1 },
      metadata: {
        schemaVersion: 1, actor: operator, commandId: '00000000-0000-4000-8000-000000000001', commandType: 'provisionCredential',
        correlationId: 'c', causationId: 'c', occurredAt: '2026-01-01T00:00:00.000Z',
      },
    });
    if (!decoded.ok) throw new Error(decoded.reason);
    expect(decoded.value.event.data).toMatchObject({ receipt: v1 });
    expect(verifyProvisioningReceipt(decoded.value.event.data)).toEqual({
      ok: false, version: 1, code: 'receipt_v1_not_binding', message: expect.stringMatching(/^receipt v1: binds only the transcript hash/),
    });
  });
});

describe('recording a provisioning from now on (provisionCredential)', async () => {
  const run = await genuine('p256', 'ed25519');
  const provisionCommand = (data: Record<string, unknown>) => ({
    type: 'provisionCredential',
    data: { method: 'remote-provisioning', bootstrapCredentialId: 'node-0001-boot', ...data },
    metadata: { commandId: '00000000-0000-4000-8000-000000000002', actor: operator },
  });
  const issuesOf = (input: unknown) => {
    const parsed = CommandSchema.safeParse(input);
    return parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'));
  };

  it('accepts the v2 receipt of the credential being provisioned', () => {
    expect(issuesOf(provisionCommand({ credentialId: CREDENTIAL_ID, receipt: run.receipt }))).toEqual([]);
  });

  it('refuses a receipt that names another credential, and a v1 receipt', () => {
    expect(issuesOf(provisionCommand({ credentialId: 'node-0001-other', receipt: run.receipt }))).toEqual(['data.receipt.credentialId']);
    const { version: _v, nodeId: _n, credential: _c, ...v1 } = run.receipt;
    expect(issuesOf(provisionCommand({ credentialId: CREDENTIAL_ID, receipt: v1 }))).toContain('data.receipt.version');
  });
});
