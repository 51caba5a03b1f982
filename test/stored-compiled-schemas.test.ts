import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { EVENT_DATA, EVENT_TYPES, type EventType } from '../domain/events/index.ts';
import { EventMetadata } from '../domain/metadata.ts';
import { decodeStored, storedDataSchema, storedMetadataSchema } from '../domain/stored.ts';
import { clone, oneValueChanges } from './support/one-value-changes.ts';
import { B64, certificate, FP, receiptV1, receiptV2, T0, T1 } from './support/parse-samples.ts';

/**
 * Stored events are read with the event schemas compiled ahead of time by zod (`z.compile`, issue 15 item 4). The
 * replay's guarantee is that every stored event is parsed by these schemas' rules, so the compiled parser must
 * agree with zod's runtime parser on everything: the same acceptance, the same output (unknown keys stripped, the
 * same values) and, on a refusal, the same issues. Checked on a valid sample of every event type, rich ones for the
 * optional nested parts, every metadata form, and every way of breaking each of them one value at a time.
 */

/** Valid data of every event type (at least one each), with the optional nested parts filled where they exist. */
const SAMPLES: readonly (readonly [EventType, Record<string, unknown>])[] = [
  ['SubscriptionCreated', { subscriptionId: 's', subscriber: 'x', notBefore: T0, notAfter: T1 }],
  ['SubscriptionExpired', { subscriptionId: 's' }],
  ['SubscriptionTerminated', { subscriptionId: 's', reason: 'contract ended' }],
  ['NodeRegistered', { nodeId: 'n', profile: { class: 'meter', manufacturer: 'a', model: 'b', capabilities: ['metering'] } }],
  ['NodeEnrolled', { nodeId: 'n', subscriptionId: 's', cseId: '/n' }],
  ['NodeAssociated', { nodeId: 'n', associationId: 'a1' }],
  ['NodeAssociationReleased', { nodeId: 'n', associationId: 'a1' }],
  ['NodeEnrolmentExpired', { nodeId: 'n', subscriptionId: 's' }],
  ['NodeRevoked', { nodeId: 'n', reason: 'cessationOfOperation' }],
  ['CredentialIssued', { credentialId: 'c', kind: 'ed25519', publicKey: B64(43), purpose: 'service', owner: { kind: 'node', id: 'n' }, fingerprint: FP, notBefore: T0, notAfter: T1 }],
  ['CredentialIssued', { credentialId: 'c', kind: 'p256', publicKey: B64(87), purpose: 'bootstrap', owner: { kind: 'node', id: 'n' }, fingerprint: FP, notBefore: T0, notAfter: T1, certificate, predecessorId: 'c0' }],
  ['CredentialProvisioned', { credentialId: 'c', method: 'pre-provisioning' }],
  ['CredentialProvisioned', { credentialId: 'c', method: 'remote-provisioning', bootstrapCredentialId: 'b', receipt: receiptV1 }],
  ['CredentialProvisioned', { credentialId: 'c', method: 'remote-provisioning', bootstrapCredentialId: 'b', receipt: receiptV2 }],
  ['CredentialAssociated', { credentialId: 'c', associationId: 'a1' }],
  ['CredentialAssociationReleased', { credentialId: 'c', associationId: 'a1' }],
  ['CredentialRotationStarted', { credentialId: 'c', successorId: 'c2', overlapEndsAt: T1 }],
  ['CredentialRotationAbandoned', { credentialId: 'c', successorId: 'c2' }],
  ['CredentialExpired', { credentialId: 'c' }],
  ['CredentialRevoked', { credentialId: 'c', reason: 'keyCompromise' }],
  ['ApplicationRegistered', { appId: 'Rapp', name: 'billing', provider: 'acme' }],
  ['ApplicationEnrolled', { appId: 'Rapp', credentialId: 'c' }],
  ['ApplicationEnrolled', { appId: 'Rapp', credentialId: 'c2', replaces: 'c' }],
  ['ApplicationInstanceAssociated', { appId: 'Rapp', aeId: 'Cae1', associationId: 'a1' }],
  ['ApplicationInstanceReleased', { appId: 'Rapp', associationId: 'a1' }],
  ['ApplicationEnrolmentEnded', { appId: 'Rapp', credentialId: 'c', reason: 'keyCompromise' }],
  ['ApplicationRevoked', { appId: 'Rapp', reason: 'privilegeWithdrawn' }],
  ['AssociationConfigured', { associationId: 'a', nodeId: 'n', credentialId: 'c', registree: { kind: 'cse', id: '/n' }, registrarCseId: '/in' }],
  ['AssociationConfigured', { associationId: 'a', nodeId: 'n', credentialId: 'c', registree: { kind: 'ae', id: 'Cae1', appId: 'Rapp' }, registrarCseId: '/in' }],
  ['AssociationEstablished', { associationId: 'a', expiresAt: T1 }],
  ['AssociationExpired', { associationId: 'a' }],
  ['AssociationRevoked', { associationId: 'a', reason: 'keyCompromise' }],
  ['PseudonymRotated', { pseudonym: `p-${'a'.repeat(26)}`, nodeId: 'n', epoch: 3, trigger: 'interval' }],
  ['PseudonymResolved', { pseudonym: `p-${'a'.repeat(26)}`, reason: 'incident 7' }],
];

const METADATA = {
  schemaVersion: 1,
  actor: { id: 'operator:alice', role: 'operator' },
  commandId: '0190a5b4-7c3e-7def-8abc-0123456789ab',
  commandType: 'registerNode',
  correlationId: 'corr-1',
  causationId: 'cause-1',
  occurredAt: T0,
};
const METADATA_FORMS: readonly Record<string, unknown>[] = [
  METADATA,
  { ...METADATA, signature: { version: 2, algorithm: 'ed25519', keyFingerprint: FP, issuedAt: T0, expiresAt: T1, audience: 'credence:test', value: B64(86) } },
  { ...METADATA, signature: { algorithm: 'p256-ecdsa-sha256', keyFingerprint: FP, value: B64(86) } },
];

/** Values that break (or, in the wrong place, happen to keep) the rules of one field. */
const JUNK: readonly unknown[] = [
  undefined, null, true, 0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, '', 'x', ' ', 'A'.repeat(87), 'x'.repeat(300), 'x'.repeat(5000),
  '2026-13-01T00:00:00.000Z', '2026-01-01', FP.toUpperCase(), 'sha256:xyz', 'ae', 'node', 'cse', 'operator', 2, 1, [], ['x'], {}, { kind: 'node' },
];

/** Both parsers on the same input: same verdict, same output, same issues. */
const expectSameParse = (compiled: z.ZodType, runtime: z.ZodType, input: unknown): boolean => {
  const fast = compiled.safeParse(clone(input));
  const slow = runtime.safeParse(clone(input));
  expect(fast.success).toBe(slow.success);
  if (slow.success) expect(fast.data).toStrictEqual(slow.data);
  else expect(fast.error!.issues).toStrictEqual(slow.error!.issues);
  return slow.success;
};

describe('stored events are read by the compiled schemas with the verdicts of zod runtime parser', () => {
  it('every event type has a sample, and every sample is valid for both parsers', () => {
    expect(new Set(SAMPLES.map(([type]) => type))).toEqual(new Set(EVENT_TYPES));
    for (const [type, data] of SAMPLES) expect(expectSameParse(storedDataSchema(type), EVENT_DATA[type] as z.ZodType, data), type).toBe(true);
    for (const metadata of METADATA_FORMS) expect(expectSameParse(storedMetadataSchema(), EventMetadata, metadata)).toBe(true);
  });

  it('agrees on every one-value change to the data of every event type (refusals and acceptances alike)', { timeout: 120_000 }, () => {
    let refused = 0;
    let accepted = 0;
    for (const [type, data] of SAMPLES) {
      for (const mutated of oneValueChanges(data, JUNK)) {
        if (expectSameParse(storedDataSchema(type), EVENT_DATA[type] as z.ZodType, mutated)) accepted++;
        else refused++;
      }
      // Every field the schema knows, set where the sample leaves it out.
      const shape = (EVENT_DATA[type] as unknown as { shape?: Record<string, unknown> }).shape ?? {};
      for (const key of Object.keys(shape).filter((k) => !(k in data))) {
        for (const junk of JUNK) expectSameParse(storedDataSchema(type), EVENT_DATA[type] as z.ZodType, { ...data, [key]: junk }) ? accepted++ : refused++;
      }
    }
    // Both kinds of outcome were exercised, many times over.
    expect(refused).toBeGreaterThan(3_000);
    expect(accepted).toBeGreaterThan(500);
  });

  it('agrees on every one-value change to every metadata form, and on inputs that are not objects', { timeout: 120_000 }, () => {
    let refused = 0;
    for (const metadata of METADATA_FORMS) {
      for (const mutated of oneValueChanges(metadata, JUNK)) if (!expectSameParse(storedMetadataSchema(), EventMetadata, mutated)) refused++;
    }
    for (const junk of JUNK) expectSameParse(storedMetadataSchema(), EventMetadata, junk);
    expect(refused).toBeGreaterThan(500);
  });

  it('a stored event with broken metadata or data is unreadable for the same reason as zod runtime parser gives', () => {
    const record = { id: 'e-1', streamId: 'node-n', revision: 0n, position: 1n, type: 'NodeEnrolled' };
    const badMetadata = decodeStored({ ...record, data: { nodeId: 'n', subscriptionId: 's', cseId: '/n' }, metadata: { ...METADATA, occurredAt: 'yesterday' } });
    const runtimeMetadata = EventMetadata.safeParse({ ...METADATA, occurredAt: 'yesterday' });
    expect(badMetadata).toEqual({ ok: false, reason: `metadata: occurredAt: ${runtimeMetadata.error!.issues[0]!.message}` });
    const badData = decodeStored({ ...record, data: { nodeId: 'n', subscriptionId: 's', cseId: 7 }, metadata: METADATA });
    const runtime = EVENT_DATA.NodeEnrolled.safeParse({ nodeId: 'n', subscriptionId: 's', cseId: 7 });
    expect(badData).toEqual({ ok: false, reason: `data: cseId: ${runtime.error!.issues[0]!.message}` });
  });
});
