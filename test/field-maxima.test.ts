/**
 * Issue 10 item 5 (SER-001): every string and byte field has a maximum that fits its meaning, so an oversized value
 * is refused rather than accepted and stored; and no schema at a boundary has a string or a list without one.
 */
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { EmbeddedSecureEnvironmentConfig } from '../adapters/driven/secure-environment/index.ts';
import { command, CommandSchema } from '../domain/commands/index.ts';
import { CredentialDescriptor } from '../domain/crypto/credential.ts';
import { MAX_PROOF_LENGTH, MAX_PUBLIC_KEY_LENGTH, publicKeyLength, SIGNATURE_LENGTH } from '../domain/crypto/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { EVENT_DATA } from '../domain/events/index.ts';
import { EventMetadata } from '../domain/metadata.ts';
import * as association from '../domain/protocols/association-messages.ts';
import * as enrolment from '../domain/protocols/enrolment-messages.ts';
import { RequestSigningPolicy } from '../domain/signing/index.ts';
import { TrustAnchorsConfig } from '../domain/x509/chain.ts';
import { at, cmd, fingerprint, fixture, footprint, operator, T0 } from './support/fleet.ts';

const ONE_MB = 'A'.repeat(1024 * 1024); // valid base64url, so only its size can refuse it

const certificate = (der: string) => ({ fingerprint: fingerprint(3), subject: 'CN=meter-1', notBefore: T0, notAfter: at(90), der });
const receipt = (bootstrapProof: string) => ({
  version: 2,
  sessionId: 'AAAAAAAAAAAAAAAAAAAAAA',
  nodeId: 'meter-1',
  enrolmentFunctionId: 'MEF-1',
  credentialId: 'cred-2',
  credential: { kind: 'psk256', fingerprint: fingerprint(2), notBefore: T0, notAfter: at(90), owner: { kind: 'node', id: 'meter-1' } },
  bootstrapKind: 'psk256',
  bootstrapFingerprint: fingerprint(1),
  // meter-1's as it stands, enrolled under sub-1 (receiptServiceParametersCurrent, review 346).
  serviceParameters: { cseId: '/cse-meter-1', m2mSubId: 'sub-1' },
  transcriptHash: 'A'.repeat(43),
  completedAt: T0,
  bootstrapProof,
  credentialProof: 'A'.repeat(86),
});
const signed = (value: string) => ({
  ...cmd.createSubscription('sub-2'),
  metadata: {
    actor: operator,
    signature: { version: 2, algorithm: 'ed25519', keyFingerprint: fingerprint(9), issuedAt: T0, expiresAt: T0, audience: 'credence:test', value },
  },
});

/** Each oversized field, and a value of a size that fits, which the same command accepts. */
const CASES = [
  { field: 'data.certificate.der', build: (v: string) => cmd.issueCredential('cred-3', 'meter-1', at(90), { certificate: certificate(v) }), fits: 'A'.repeat(1_000) },
  { field: 'data.transcriptHash', build: (v: string) => command('establishAssociation', { associationId: 'sa-1', expiresAt: at(30), transcriptHash: v }, { actor: operator }), fits: 'A'.repeat(43) },
  {
    field: 'data.receipt.bootstrapProof',
    build: (v: string) =>
      command('provisionCredential', { credentialId: 'cred-2', method: 'remote-provisioning', bootstrapCredentialId: 'boot-1', receipt: receipt(v) }, { actor: operator }),
    fits: 'A'.repeat(86),
  },
  { field: 'metadata.signature.value', build: signed, fits: 'A'.repeat(86) },
] as const;

describe('a command carrying a 1 MB value is refused and writes nothing', () => {
  for (const { field, build, fits } of CASES) {
    it(`a 1 MB ${field} is a validation error naming the field and the rule, and the store is unchanged`, async () => {
      const { engine, store } = fixture();
      // boot-1, meter-1's bootstrap credential, which remote provisioning authenticates on (bootstrapIsFactoryCredential, review 288).
      for (const c of [
        cmd.createSubscription(), cmd.registerNode(), cmd.issueCredential('boot-1', 'meter-1', at(90), { purpose: 'bootstrap' }), cmd.provisionCredential('boot-1'),
        cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential(), cmd.issueCredential('cred-2'), cmd.configureAssociation(),
      ]) {
        await engine.execute(c);
      }
      const before = await footprint(store);
      const error = await engine.execute(build(ONE_MB)).then(() => undefined, (e: unknown) => e);
      expect(isCredenceError(error, 'validation'), String(error).slice(0, 200)).toBe(true);
      const issues = isCredenceError(error) && error.problem.code === 'validation' ? error.problem.issues : [];
      expect(issues).toContainEqual(expect.objectContaining({ path: field, rule: 'too_big' }));
      expect(await footprint(store)).toEqual(before);
      // The same command with a value of a size that fits is accepted: only the size refused it.
      await engine.execute(build(fits));
    });
  }
});

type Def = { type: string; format?: string; checks?: { _zod: { def: { check: string } } }[]; [key: string]: unknown };

/** Paths of strings and arrays with no maximum in `schema` (formats such as uuid and datetime are bounded by their pattern). */
const unbounded = (schema: z.ZodType, path: string, found: string[] = [], seen = new Set<unknown>()): string[] => {
  if (seen.has(schema)) return found;
  seen.add(schema);
  const def = schema._zod.def as unknown as Def;
  const hasMax = (def.checks ?? []).some((c) => ['max_length', 'length_equals'].includes(c._zod.def.check));
  const walk = (inner: unknown, at = path) => unbounded(inner as z.ZodType, at, found, seen);
  switch (def.type) {
    case 'string':
      if (!hasMax && !['uuid', 'datetime'].includes(def.format ?? '')) found.push(path || '(root)');
      break;
    case 'array':
      if (!hasMax) found.push(`${path}[]`);
      walk(def['element'], `${path}[]`);
      break;
    case 'object':
      for (const [key, value] of Object.entries(def['shape'] as Record<string, unknown>)) walk(value, path ? `${path}.${key}` : key);
      break;
    case 'union':
      for (const option of def['options'] as unknown[]) walk(option);
      break;
    case 'pipe':
      walk(def['in']);
      walk(def['out']);
      break;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'readonly':
      walk(def['innerType']);
      break;
    case 'record':
    case 'any':
    case 'unknown':
      found.push(`${path} (${def.type})`);
      break;
    default: // enum, literal, number, boolean, custom: bounded by what they are
  }
  return found;
};

describe('every string and list at a boundary has a maximum', () => {
  it('the byte maxima agree with the algorithms', () => {
    expect(MAX_PROOF_LENGTH).toBe(SIGNATURE_LENGTH);
    expect(MAX_PUBLIC_KEY_LENGTH).toBe(Math.max(publicKeyLength('ed25519'), publicKeyLength('p256')));
  });

  it('the check itself finds an unbounded string and an unbounded list', async () => {
    const { z } = await import('zod');
    expect(unbounded(z.object({ a: z.string(), b: z.array(z.string().max(3)), c: z.string().max(3) }), '')).toEqual(['a', 'b[]']);
  });

  const SCHEMAS: Record<string, z.ZodType> = {
    commands: CommandSchema,
    'event metadata': EventMetadata,
    ...Object.fromEntries(Object.entries(EVENT_DATA).map(([type, schema]) => [`event ${type}`, schema])),
    'credential descriptor': CredentialDescriptor,
    ...Object.fromEntries(Object.entries({ ...association, ...enrolment }).filter(([, v]) => typeof v === 'object' && v !== null && '_zod' in v)),
    'request-signing policy': RequestSigningPolicy,
    'trust anchors': TrustAnchorsConfig,
    'Secure Environment configuration': EmbeddedSecureEnvironmentConfig,
  };
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    it(name, () => expect(unbounded(schema, '')).toEqual([]));
  }
});
