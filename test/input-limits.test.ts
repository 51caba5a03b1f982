/**
 * Issue 10 item 2 (SER-001 denial of service): input nested deeply enough to overflow a recursive parser, or too
 * large, is refused at every JSON boundary with an error naming the limit, never a RangeError.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import { openCredence } from '../adapters/runtime/open-credence.ts';
import { history } from '../bin/commands/history.ts';
import { readSigningPolicy } from '../bin/commands/signing-option.ts';
import { run as verify } from '../bin/commands/verify.ts';
import { isCredenceError, type CredenceError } from '../domain/errors.ts';
import { jsonLimitIssue, MESSAGE_JSON_LIMITS } from '../domain/json-limits.ts';
import { AssociationFinish } from '../domain/protocols/association-messages.ts';
import { parseMessage } from '../domain/protocols/protocol.ts';
import { requestVerifier } from '../domain/signing/index.ts';
import { decodeStored } from '../domain/stored.ts';
import { EVIDENCE_BUNDLE_FORMAT, formatVerifierKey, noteVerifierKey, verifyEvidenceBundle } from '../domain/transparency/index.ts';
import { TrustAnchors } from '../domain/x509/index.ts';
import { capture } from './support/cli.ts';
import { cmd, fixture, footprint, operator, profile, T0 } from './support/fleet.ts';
import { tempDirs } from './transparency-fixtures.ts';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** `{ a: { a: ... 1 } }`, `levels` objects deep. */
const nested = (levels: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
};

/** The bundle of the report: entries[0].event.data nested 1,500 levels (an 11.6 KB file). */
const deepBundle = () => ({
  format: EVIDENCE_BUNDLE_FORMAT,
  streamId: 'credential-c1',
  logPublicKey: formatVerifierKey(noteVerifierKey('log.example', new Uint8Array(32).fill(7))),
  checkpoint: 'log.example\n1\nAAAA\n',
  entries: [
    {
      event: { position: '0', streamId: 'credential-c1', revision: '0', id: 'e-0', type: 'CredentialIssued', data: nested(1_500), metadata: {} },
      leafIndex: 0,
      proof: [],
    },
  ],
  notYetCheckpointed: 0,
});

const thrown = (run: () => unknown): CredenceError => {
  try {
    run();
  } catch (error) {
    if (isCredenceError(error)) return error;
    throw error;
  }
  throw new Error('expected a CredenceError');
};

const issuesOf = (error: CredenceError) => (error.problem.code === 'validation' ? error.problem.issues : []);

describe('evidence bundles and proof files nested past the limit are malformed input, not a stack overflow', () => {
  it('verifyEvidenceBundle refuses a 1,500-level bundle as malformed, naming the depth limit', () => {
    const result = verifyEvidenceBundle(deepBundle(), { integrityOnly: true });
    expect(result).toMatchObject({ ok: false, reason: 'malformed' });
    expect(!result.ok && result.message).toMatch(/entries\.0\.event\.data(\.a)+: nested deeper than 32 levels/);
  });

  it('credence verify exits 2 on such a bundle file and on such an --event file, naming the limit', async () => {
    const dir = dirs.make();
    const file = (name: string, content: unknown) => (writeFileSync(join(dir, name), JSON.stringify(content)), join(dir, name));
    const bundle = file('bundle.json', deepBundle());
    const key = deepBundle().logPublicKey;
    const b = capture();
    expect(await verify([bundle, '--key', key], b.io)).toBe(2);
    expect(b.err.join('\n')).toMatch(/nested deeper than 32 levels/);

    const event = file('event.json', deepBundle().entries[0]!.event);
    const proof = file('proof.json', { leafIndex: 0, treeSize: 1, hashes: [] });
    const checkpoint = file('checkpoint.txt', 'not a note');
    const e = capture();
    expect(await verify(['--event', event, '--proof', proof, '--checkpoint', checkpoint, '--key', key], e.io)).toBe(2);
    expect(e.err.join('\n')).toMatch(/--event: .*nested deeper than 32 levels/);
    expect([...b.err, ...e.err].join('\n')).not.toMatch(/call stack/);
  });

  it('credence verify refuses a JSON file over its byte limit before parsing it', async () => {
    const dir = dirs.make();
    const event = join(dir, 'event.json');
    writeFileSync(event, JSON.stringify({ id: 'a'.repeat(1024 * 1024) }));
    const c = capture();
    const key = deepBundle().logPublicKey;
    expect(await verify(['--event', event, '--proof', event, '--checkpoint', event, '--key', key], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/--event: .* is larger than 1048576 bytes/);
  });
});

describe('commands, stored events and protocol messages past the limits are refused, naming the limit', () => {
  it('a command with a deeply nested field is a validation error and writes nothing', async () => {
    const { engine, store } = fixture();
    await engine.execute(cmd.createSubscription());
    const before = await footprint(store);
    const input = { type: 'registerNode', data: { nodeId: 'meter-1', profile: { ...profile, extra: nested(40) } }, metadata: { actor: operator } };
    const error = await engine.execute(input).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCredenceError(error, 'validation')).toBe(true);
    expect(issuesOf(error as CredenceError)[0]).toMatchObject({ rule: 'max_depth', message: 'nested deeper than 16 levels' });
    expect(await footprint(store)).toEqual(before);
  });

  it('a stored event beyond the limits is an unreadable event with the reason, not a throw', async () => {
    const { engine, store } = fixture();
    await engine.execute(cmd.createSubscription());
    const [record] = await store.readStream('subscription-sub-1');
    const decoded = decodeStored({ ...record!, data: { ...record!.data, extra: nested(1_500) } });
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.reason).toMatch(/^data\.extra(\.a)+: nested deeper than 16 levels$/);
    const wide = decodeStored({ ...record!, metadata: { ...record!.metadata, extra: new Array(10_000).fill(0) } });
    expect(!wide.ok && wide.reason).toMatch(/^metadata\.extra: more than 4096 JSON values$/);
  });

  it('a protocol message beyond the limits is a malformed protocol refusal naming the limit', () => {
    const error = thrown(() => parseMessage(AssociationFinish, { type: 'association.finish', extra: nested(1_500) }, 'association.finish'));
    expect(error.problem).toMatchObject({ code: 'protocol', step: 'association.finish', reason: 'malformed' });
    expect(error.message).toMatch(/nested deeper than 16 levels/);
  });
});

describe('configuration past the limits is a validation error naming the limit', () => {
  it('request-signing policy, trust anchors and Secure Environment configuration', () => {
    const policy = thrown(() => requestVerifier({ keys: [{ actorId: 'a', algorithm: 'ed25519', publicKey: 'AAAA', extra: nested(1_500) }] } as never));
    expect(issuesOf(policy)[0]).toMatchObject({ rule: 'max_depth' });
    const anchors = thrown(() => TrustAnchors.fromConfig([nested(1_500)]));
    expect(issuesOf(anchors)[0]).toMatchObject({ path: expect.stringMatching(/^trustAnchors\.0(\.a)+$/), rule: 'max_depth' });
    const se = thrown(() => EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral', extra: nested(1_500) } }, { now: () => new Date(T0), random: (n) => new Uint8Array(n) }));
    expect(issuesOf(se)[0]).toMatchObject({ rule: 'max_depth' });
  });

  it('credence --signing refuses a policy file nested past the limit', () => {
    const dir = dirs.make();
    const file = join(dir, 'signing.json');
    writeFileSync(file, JSON.stringify({ keys: [nested(1_500)] }));
    const c = capture();
    expect(readSigningPolicy(file, c.io)).toBe(false);
    expect(c.err.join("\n")).toMatch(/--signing: .*keys\.0(\.a)+: nested deeper than 32 levels/);
  });

  it('a store connection string longer than the limit is refused before anything opens it', async () => {
    const long = `sqlite:${'d'.repeat(5_000)}`;
    const error = thrown(() => openCredence({ location: { memory: true }, clock: new FakeClock(T0), connectionString: long }));
    expect(issuesOf(error)[0]).toMatchObject({ path: 'connectionString', rule: 'too_big' });
    const c = capture();
    expect(await history(['credential-c1', '--store', long], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/store: .*4096/);
  });
});

describe('the limit check itself', () => {
  it('never recurses, stops on cyclic input, counts a wide list before walking it and cuts long keys in the path', () => {
    expect(jsonLimitIssue(nested(100_000))).toMatchObject({ rule: 'max_depth' });
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(jsonLimitIssue(cyclic, MESSAGE_JSON_LIMITS)).toMatchObject({ rule: 'max_depth' });
    expect(jsonLimitIssue({ list: new Array(5_000).fill(0) }, MESSAGE_JSON_LIMITS)).toEqual({ path: 'list', rule: 'max_values', message: 'more than 4096 JSON values' });
    const issue = jsonLimitIssue({ ['k'.repeat(100_000)]: nested(40) }, MESSAGE_JSON_LIMITS);
    expect(issue?.path.split('.')[0]).toBe(`${'k'.repeat(64)}…`);
    expect(jsonLimitIssue({ a: [1, 'x', null, { b: true }] }, MESSAGE_JSON_LIMITS)).toBeUndefined();
  });
});
