import { describe, expect, it } from 'vitest';
import { COMMAND_TYPES, CommandSchema, parseCommand, parseSentCommand, SentCommandSchema, type CommandType } from '../domain/commands/index.ts';
import { compiledCommandSchema, compiledSentCommandSchema } from '../domain/commands/command.ts';
import { CredenceError, validationError } from '../domain/errors.ts';
import { assertJsonWithin, MESSAGE_JSON_LIMITS } from '../domain/json-limits.ts';
import { clone, oneValueChanges } from './support/one-value-changes.ts';
import { B64, certificate, FP, receiptV2, T0, T1 } from './support/parse-samples.ts';
import { placeholderKey } from './support/fleet.ts';

/**
 * Commands are parsed by each command type's schema compiled ahead of time by zod (`z.compile`, issue 15 item 1),
 * falling back to the runtime union for anything the compiled check refuses. The engine's guarantee is that every
 * command meets the same rules and a refusal names the same fields, rules and messages as before, so the compiled
 * path must agree with zod's runtime parser everywhere: the same acceptance, the same output (unknown keys stripped)
 * and, through `parseCommand`, the byte-identical validation error. Checked on a valid sample of every command type
 * (rich ones for the optional nested parts) and every way of breaking each one value at a time.
 */

/** Valid data of every command type (at least one each), with the optional nested parts filled where they exist. */
const SAMPLES: readonly (readonly [CommandType, Record<string, unknown>])[] = [
  ['createSubscription', { subscriptionId: 's', subscriber: 'x', notBefore: T0, notAfter: T1 }],
  ['expireSubscription', { subscriptionId: 's' }],
  ['terminateSubscription', { subscriptionId: 's', reason: 'contract ended' }],
  ['registerNode', { nodeId: 'n', profile: { class: 'meter', manufacturer: 'a', model: 'b', capabilities: ['metering'] } }],
  ['enrolNode', { nodeId: 'n', subscriptionId: 's', cseId: '/n' }],
  ['recordNodeAssociation', { nodeId: 'n', associationId: 'a1' }],
  ['releaseNodeAssociation', { nodeId: 'n', associationId: 'a1' }],
  ['expireNodeEnrolment', { nodeId: 'n', subscriptionId: 's' }],
  ['revokeNode', { nodeId: 'n', reason: 'cessationOfOperation' }],
  ['issueCredential', { credentialId: 'c', kind: 'ed25519', ...placeholderKey('c'), purpose: 'service', owner: { kind: 'node', id: 'n' }, notBefore: T0, notAfter: T1 }],
  ['issueCredential', { credentialId: 'c', kind: 'p256', ...placeholderKey('c', 'p256'), purpose: 'bootstrap', owner: { kind: 'node', id: 'n' }, notBefore: T0, notAfter: T1, certificate, predecessorId: 'c0' }],
  ['issueCredential', { credentialId: 'c', kind: 'psk256', purpose: 'bootstrap', owner: { kind: 'node', id: 'n' }, fingerprint: FP, notBefore: T0, notAfter: T1 }],
  ['provisionCredential', { credentialId: 'c', method: 'pre-provisioning' }],
  ['provisionCredential', { credentialId: 'c', method: 'remote-provisioning', bootstrapCredentialId: 'b', receipt: receiptV2 }],
  ['recordCredentialAssociation', { credentialId: 'c', associationId: 'a1' }],
  ['releaseCredentialAssociation', { credentialId: 'c', associationId: 'a1' }],
  ['startCredentialRotation', { credentialId: 'c', successorId: 'c2', overlapEndsAt: T1 }],
  ['abandonCredentialRotation', { credentialId: 'c', successorId: 'c2' }],
  ['expireCredential', { credentialId: 'c' }],
  ['revokeCredential', { credentialId: 'c', reason: 'keyCompromise' }],
  ['registerApplication', { appId: 'Rapp', name: 'billing', provider: 'acme' }],
  ['enrolApplication', { appId: 'Rapp', credentialId: 'c' }],
  ['enrolApplication', { appId: 'Rapp', credentialId: 'c2', replaces: 'c' }],
  ['recordApplicationInstance', { appId: 'Rapp', aeId: 'Cae1', associationId: 'a1' }],
  ['releaseApplicationInstance', { appId: 'Rapp', associationId: 'a1' }],
  ['endApplicationEnrolment', { appId: 'Rapp', credentialId: 'c', reason: 'superseded' }],
  ['revokeApplication', { appId: 'Rapp', reason: 'privilegeWithdrawn' }],
  ['configureAssociation', { associationId: 'a', nodeId: 'n', credentialId: 'c', registree: { kind: 'cse', id: '/n' }, registrarCseId: '/in' }],
  ['configureAssociation', { associationId: 'a', nodeId: 'n', credentialId: 'c', registree: { kind: 'ae', id: 'Cae1', appId: 'Rapp' }, registrarCseId: '/in' }],
  ['establishAssociation', { associationId: 'a', expiresAt: T1 }],
  ['expireAssociation', { associationId: 'a' }],
  ['revokeAssociation', { associationId: 'a', reason: 'keyCompromise' }],
  ['rotatePseudonym', { pseudonym: `p-${'a'.repeat(26)}`, nodeId: 'n', epoch: 3, trigger: 'interval' }],
  ['resolvePseudonym', { pseudonym: `p-${'a'.repeat(26)}`, reason: 'incident 7' }],
];

const METADATA_FORMS: readonly Record<string, unknown>[] = [
  { commandId: '0190a5b4-7c3e-7def-8abc-0123456789ab', actor: { id: 'operator:alice', role: 'operator' } },
  {
    commandId: '0190a5b4-7c3e-7def-8abc-0123456789ab', actor: { id: 'operator:alice', role: 'operator' }, correlationId: 'corr-1', causationId: 'cause-1',
    signature: { version: 2, algorithm: 'ed25519', keyFingerprint: FP, issuedAt: T0, expiresAt: T1, audience: 'credence:test', value: B64(86) },
  },
];

/** Values that break (or, in the wrong place, happen to keep) the rules of one field. */
const JUNK: readonly unknown[] = [
  undefined, null, true, 0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, '', 'x', ' ', 'a b', 'A'.repeat(43), 'A'.repeat(87), 'x'.repeat(300), 'x'.repeat(5000),
  '2026-13-01T00:00:00.000Z', '2026-01-01', FP.toUpperCase(), 'sha256:xyz', 'ae', 'node', 'cse', 'operator', 'system', 'psk256', 'p256', 2, 1, [], ['x'], {},
  { kind: 'node' }, 'registerNode', 'toString',
];

/** `parseCommand` as it was before the compiled schemas: the limits walk, then the runtime union. */
const runtimeParseCommand = (input: unknown): unknown => {
  assertJsonWithin(input, 'command', MESSAGE_JSON_LIMITS);
  const parsed = CommandSchema.safeParse(input);
  if (!parsed.success) {
    // A rule's own name where it gives one (`params.rule`, as parseCommand's issuesOf reads it), else zod's code.
    const ruleOf = (i: (typeof parsed.error.issues)[number]): string => (i.code === 'custom' && typeof i.params?.['rule'] === 'string' ? (i.params['rule'] as string) : i.code);
    throw validationError(parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), rule: ruleOf(i), message: i.message })), 'command');
  }
  return parsed.data;
};

/**
 * `parseSentCommand` as the runtime alone would do it (review 348): the limits walk, then the runtime union of commands
 * as sent; refused, it is refused as runtimeParseCommand refuses it, every field CommandSchema names. CommandSchema
 * accepting what SentCommandSchema refuses would break that promise: said so, no CredenceError.
 */
const runtimeParseSentCommand = (input: unknown): unknown => {
  assertJsonWithin(input, 'command', MESSAGE_JSON_LIMITS);
  const parsed = SentCommandSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  runtimeParseCommand(input);
  throw new Error('CommandSchema accepted a command SentCommandSchema refuses');
};

const outcome = (parse: (input: unknown) => unknown, input: unknown) => {
  try {
    return { ok: true as const, value: parse(clone(input)) };
  } catch (error) {
    expect(error).toBeInstanceOf(CredenceError);
    const { name, message, problem } = error as CredenceError;
    return { ok: false as const, name, message, problem };
  }
};

/** Both parsers on the same input: the same command, or the same error to the byte. Returns whether it was accepted. */
const expectSameParse = (input: unknown): boolean => {
  const fast = outcome(parseCommand, input);
  const slow = outcome(runtimeParseCommand, input);
  expect(fast).toStrictEqual(slow);
  // The compiled schema alone must never accept what the runtime refuses, nor refuse what it accepts.
  const type = (input as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && (COMMAND_TYPES as string[]).includes(type)) {
    const compiled = compiledCommandSchema(type as CommandType).safeParse(clone(input));
    const runtime = CommandSchema.safeParse(clone(input));
    expect(compiled.success).toBe(runtime.success);
    if (runtime.success) expect(compiled.data).toStrictEqual(runtime.data);
  }
  return slow.ok;
};

/** The same for a command as sent (parseSentCommand, compiledSentCommandSchema): what the engine and the route parse. */
const expectSameSentParse = (input: unknown): boolean => {
  const fast = outcome(parseSentCommand, input);
  const slow = outcome(runtimeParseSentCommand, input);
  expect(fast).toStrictEqual(slow);
  const type = (input as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && (COMMAND_TYPES as string[]).includes(type)) {
    const compiled = compiledSentCommandSchema(type as CommandType).safeParse(clone(input));
    const runtime = SentCommandSchema.safeParse(clone(input));
    expect(compiled.success).toBe(runtime.success);
    if (runtime.success) expect(compiled.data).toStrictEqual(runtime.data);
  }
  return slow.ok;
};

const commandsOf = (type: CommandType, data: Record<string, unknown>) => METADATA_FORMS.map((metadata) => ({ type, data, metadata }));

describe('commands are parsed by the compiled schemas with the verdicts and errors of zod runtime parser', () => {
  it('every command type has a sample, and every sample is accepted by both parsers with the same output', () => {
    expect(new Set(SAMPLES.map(([type]) => type))).toEqual(new Set(COMMAND_TYPES));
    for (const [type, data] of SAMPLES) for (const command of commandsOf(type, data)) expect(expectSameParse(command), type).toBe(true);
  });

  it('every sample is accepted as sent by both parsers with the same output', () => {
    for (const [type, data] of SAMPLES) for (const command of commandsOf(type, data)) expect(expectSameSentParse(command), type).toBe(true);
  });

  it('agrees on every one-value change to every command (refusals and acceptances alike), errors byte-identical', { timeout: 300_000 }, () => {
    let refused = 0;
    let accepted = 0;
    for (const [type, data] of SAMPLES) {
      for (const command of commandsOf(type, data)) {
        for (const mutated of oneValueChanges(command, JUNK)) expectSameParse(mutated) ? accepted++ : refused++;
      }
    }
    expect(refused).toBeGreaterThan(5_000);
    expect(accepted).toBeGreaterThan(500);
  });

  it('agrees as sent on every one-value change to every command, errors byte-identical and naming every field CommandSchema does', { timeout: 300_000 }, () => {
    let refused = 0;
    let accepted = 0;
    for (const [type, data] of SAMPLES) {
      for (const command of commandsOf(type, data)) {
        for (const mutated of oneValueChanges(command, JUNK)) expectSameSentParse(mutated) ? accepted++ : refused++;
      }
    }
    expect(refused).toBeGreaterThan(5_000);
    expect(accepted).toBeGreaterThan(500);
  });

  it('agrees on inputs that are not commands at all, and on a type that is not a command', () => {
    for (const junk of JUNK) expect(expectSameParse(junk)).toBe(false);
    for (const junk of JUNK) expect(expectSameSentParse(junk)).toBe(false);
    for (const type of ['toString', '__proto__', 'constructor', 'RegisterNode', 'NodeRegistered']) {
      expect(expectSameParse({ ...commandsOf('registerNode', SAMPLES[3]![1])[0], type })).toBe(false);
      expect(expectSameSentParse({ ...commandsOf('registerNode', SAMPLES[3]![1])[0], type })).toBe(false);
    }
  });

  it('a refused command names the field and the rule, exactly as the runtime parser does', () => {
    const input = { type: 'enrolNode', data: { nodeId: 'n', subscriptionId: 's', cseId: 7 }, metadata: METADATA_FORMS[0] };
    expect(() => parseCommand(input)).toThrow(CredenceError);
    const refusal = outcome(parseCommand, input);
    expect(refusal).toMatchObject({ ok: false, problem: { code: 'validation', issues: [{ path: 'data.cseId', rule: 'invalid_type' }] } });
    expect(refusal).toStrictEqual(outcome(runtimeParseCommand, input));
  });

  it('a command refused as sent names every field CommandSchema refuses, the rules of new facts too (review 348)', () => {
    // Missing its model (a rule of commands as sent), a bell in its manufacturer and metering twice (rules of new facts).
    const profile = { class: 'meter', manufacturer: 'A\u0007', capabilities: ['metering', 'metering'] };
    const input = { type: 'registerNode', data: { nodeId: 'n', profile }, metadata: METADATA_FORMS[0] };
    const refusal = outcome(parseSentCommand, input);
    expect(refusal).toMatchObject({ ok: false, problem: { code: 'validation' } });
    expect(refusal.ok === false && refusal.problem.code === 'validation' ? refusal.problem.issues.map((i) => `${i.path} ${i.rule}`) : []).toEqual([
      'data.profile.manufacturer printable',
      'data.profile.model invalid_type',
      'data.profile.capabilities.1 repeated_capability',
    ]);
    expect(refusal).toStrictEqual(outcome(runtimeParseSentCommand, input));
  });
});
