/**
 * Issue 10, property-based fuzzing of the offline verifiers: a genuine evidence bundle (v2, and the v1 format), an
 * event with its inclusion proof, two checkpoints with their consistency proof and an exported log, all made from a
 * real engine run and signed by a test log key, are mutated (bits flipped in base64 fields, entries removed,
 * duplicated and reordered, numbers out of range, lines of the signed notes dropped, doubled, swapped or edited,
 * another key's signature appended, random JSON) and verified as `credence verify` does. The result is a failed
 * verification value (or a CredenceError), never an exception; and a mutated input verifies as ok only when it
 * means the same: the same events at the same leaves under the same signed checkpoint. The RFC 9162 proof
 * checks are also fed arbitrary sizes, indexes and bytes. Settings: ./settings.ts.
 */
import fc from 'fast-check';
import { it } from '@fast-check/vitest';
import { beforeAll, describe } from 'vitest';
import { DEFAULT_JSON_LIMITS, jsonLimitIssue } from '../../domain/json-limits.ts';
import type { RecordedEvent } from '../../domain/ports/index.ts';
import {
  BundledEventJson,
  ConsistencyProofJson,
  EVIDENCE_BUNDLE_FORMAT_V1,
  InclusionProofJson,
  MemoryTree,
  RecordedEventJson,
  buildEvidenceBundle,
  consistencyProof,
  eventLeafHash,
  formatCheckpointText,
  formatStreamHeadText,
  formatVerifierKey,
  inclusionProof,
  parseVerifierKey,
  rootFromInclusionProof,
  rootHash,
  streamRootOf,
  verifyConsistency,
  verifyConsistencyProof,
  verifyEventInclusion,
  verifyEvidenceBundle,
  verifyExportedLog,
  verifyInclusionProof,
  type Checkpoint,
  type LoggedEvent,
  type VerificationResult,
} from '../../domain/transparency/index.ts';
import { signNote } from '../../projections/transparency/index.ts';
import { cmd, establishOne, fixture } from '../support/fleet.ts';
import { ORIGIN, fixedSigner, keyOf, readAllEvents } from '../transparency-fixtures.ts';
import { anyInput, materialize } from './arbitraries.ts';
import { applyMutations, cloneTree, getAt, mutation, type Mutation, type Path, pathsOf } from './mutations.ts';
import { ending, fuzzParameters, SEED_NOTE, tally, timeoutFor, untyped, violated } from './settings.ts';

// ------------------------------------------------------------------------------------------- genuine evidence

const signer = fixedSigner(7);
const key = keyOf(signer);
const otherKey = keyOf(fixedSigner(8));
const STREAM = 'credential-cred-1';
const TIME = '2026-02-01T00:00:00.000Z';

interface Genuine {
  readonly logged: readonly RecordedEvent[];
  readonly bundle: Record<string, unknown>;
  readonly bundleV1: Record<string, unknown>;
  readonly checkpoint: string;
  readonly earlierCheckpoint: string;
  readonly eventJson: unknown;
  readonly inclusion: unknown;
  readonly consistency: unknown;
  readonly leafIndex: number;
}

let genuine: Genuine;

beforeAll(async () => {
  const { engine, store } = fixture();
  await establishOne(engine);
  for (const c of [cmd.issueCredential('cred-2'), cmd.revokeCredential(), cmd.createSubscription('sub-2'), cmd.provisionCredential('cred-2')]) await engine.execute(c);
  const logged = await readAllEvents(store);
  await store.close();
  const tree = new MemoryTree(logged.map(eventLeafHash));
  const size = logged.length;
  const earlier = size - 3;
  const checkpointAt = (n: number) => signNote(signer, formatCheckpointText({ origin: ORIGIN, treeSize: n, rootHash: rootHash(tree, n), time: TIME }));
  const stream = logged.filter((e) => e.streamId === STREAM);
  const streamHead = await signNote(
    signer,
    formatStreamHeadText({ origin: ORIGIN, treeSize: size, rootHash: rootHash(tree, size), streamId: STREAM, events: stream.length, streamRoot: streamRootOf(stream.map(eventLeafHash)) }),
  );
  const checkpoint = await checkpointAt(size);
  const entries = stream.map((event) => ({ event, leafIndex: logged.indexOf(event), proof: inclusionProof(tree, logged.indexOf(event), size) }));
  const bundle = JSON.parse(JSON.stringify(buildEvidenceBundle({ streamId: STREAM, entries, checkpointNote: checkpoint, streamHeadNote: streamHead, logPublicKey: key })));
  const { streamHead: _dropped, ...v1 } = bundle;
  const leafIndex = logged.indexOf(stream[1]!);
  genuine = {
    logged,
    bundle,
    bundleV1: { ...v1, format: EVIDENCE_BUNDLE_FORMAT_V1, notYetCheckpointed: 0 },
    checkpoint,
    earlierCheckpoint: await checkpointAt(earlier),
    eventJson: JSON.parse(JSON.stringify(RecordedEventJson.encode(stream[1]!))),
    inclusion: JSON.parse(JSON.stringify(InclusionProofJson.encode({ leafIndex, treeSize: size, hashes: inclusionProof(tree, leafIndex, size) }))),
    consistency: JSON.parse(JSON.stringify(ConsistencyProofJson.encode({ first: earlier, second: size, hashes: consistencyProof(tree, earlier, size) }))),
    leafIndex,
  };
});

// ------------------------------------------------------------------------------------------- note mutations

/** Line-level changes to a signed note (a checkpoint or a stream head) anywhere in the input. */
type NoteMutation =
  | { readonly op: 'dropLine' | 'doubleLine' | 'crlf' | 'trailingSpace' | 'noFinalNewline'; readonly at: number; readonly line: number }
  | { readonly op: 'swapLines'; readonly at: number; readonly line: number; readonly with: number }
  | { readonly op: 'editLine'; readonly at: number; readonly line: number; readonly text: string }
  /** A signature line of another key: a verifier ignores it, so the note means the same. */
  | { readonly op: 'otherSignature'; readonly at: number; readonly line: number };

const noteMutation: fc.Arbitrary<NoteMutation> = fc.oneof(
  fc.record({ op: fc.constantFrom('dropLine' as const, 'doubleLine' as const, 'crlf' as const, 'trailingSpace' as const, 'noFinalNewline' as const, 'otherSignature' as const), at: fc.nat(), line: fc.nat() }),
  fc.record({ op: fc.constant('swapLines' as const), at: fc.nat(), line: fc.nat(), with: fc.nat() }),
  fc.record({
    op: fc.constant('editLine' as const),
    at: fc.nat(),
    line: fc.nat(),
    text: fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom('0', '-1', '9007199254740993', '18446744073709551616', 'time 2026-02-30T00:00:00Z', 'time NaN', '\u2014 x AAAA', `${ORIGIN}`, '')),
  }),
);

const OTHER_SIGNATURE = `\u2014 witness.example ${Buffer.from(new Uint8Array(68).fill(3)).toString('base64')}`;

const applyNoteMutation = (root: unknown, m: NoteMutation): unknown => {
  const notes = pathsOf(root).filter((p) => { const v = getAt(root, p); return typeof v === 'string' && v.includes('\n'); });
  const target: Path | undefined = notes.length === 0 ? undefined : notes[m.at % notes.length];
  if (target === undefined) return root;
  const text = getAt(root, target) as string;
  const lines = text.slice(0, -1).split('\n');
  const i = m.line % lines.length;
  let next: string;
  switch (m.op) {
    case 'dropLine':
      next = [...lines.slice(0, i), ...lines.slice(i + 1)].join('\n') + '\n';
      break;
    case 'doubleLine':
      next = [...lines.slice(0, i + 1), ...lines.slice(i)].join('\n') + '\n';
      break;
    case 'swapLines': {
      const j = m.with % lines.length;
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      next = lines.join('\n') + '\n';
      break;
    }
    case 'editLine':
      lines[i] = m.text;
      next = lines.join('\n') + '\n';
      break;
    case 'crlf':
      next = text.replace(/\n/g, '\r\n');
      break;
    case 'trailingSpace':
      lines[i] = `${lines[i]} `;
      next = lines.join('\n') + '\n';
      break;
    case 'noFinalNewline':
      next = text.slice(0, -1);
      break;
    case 'otherSignature':
      next = `${text}${OTHER_SIGNATURE}\n`;
      break;
  }
  if (target.length === 0) return next;
  const copy = cloneTree(root) as Record<string | number, unknown>;
  let parent = copy;
  for (const k of target.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  parent[target[target.length - 1]!] = next;
  return copy;
};

/** A change: a structured mutation of the JSON, or a line-level change of a note inside it. */
const change = fc.oneof({ weight: 3, arbitrary: mutation.map((m) => ({ json: m })) }, { weight: 2, arbitrary: noteMutation.map((m) => ({ note: m })) });
type Change = { json: Mutation } | { note: NoteMutation };

const applyChanges = (root: unknown, changes: readonly Change[]): unknown =>
  changes.reduce<unknown>((r, c) => ('json' in c ? applyMutations(r, [c.json]) : applyNoteMutation(r, c.note)), root);

/** An altered input: some changes, or anything at all in its place. */
const altered = fc.oneof({ weight: 6, arbitrary: fc.array(change, { minLength: 1, maxLength: 4 }).map((changes) => ({ changes })) }, { weight: 1, arbitrary: anyInput.map((value) => ({ value })) });
type Altered = { changes: readonly Change[] } | { value: unknown };

const alter = (original: unknown, how: Altered): unknown => ('value' in how ? materialize(how.value) : applyChanges(original, how.changes));

// --------------------------------------------------------------------------------------------------- oracles

/** Canonical text of a JSON value (sorted keys), independent of the code under test. */
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
};

/** What a log leaf says about an event: every field the leaf covers, in the order the leaf has them. */
const eventMeaning = (e: unknown): string => {
  const r = (e ?? {}) as Record<string, unknown>;
  return canonical({ position: String(r['position']), streamId: r['streamId'], revision: String(r['revision']), id: r['id'], type: r['type'], data: r['data'], metadata: r['metadata'] });
};

const checkpointMeaning = (c: Checkpoint): string => `${c.origin} ${c.treeSize} ${Buffer.from(c.rootHash).toString('hex')} ${c.time}`;

/** Runs a verifier; a throw that is not a CredenceError fails the property; a result must be a verification value. */
const verified = async <T extends object>(property: string, where: string, run: () => VerificationResult<T>): Promise<VerificationResult<T> | undefined> => {
  const ended = await ending(run);
  if (ended.kind === 'untyped') untyped(where, ended.error);
  if (ended.kind === 'refused') {
    tally(property, `threw ${ended.error.code}`);
    return undefined;
  }
  const result = (ended as { value: VerificationResult<T> }).value;
  if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') violated(`${where} returned ${String(result)}`);
  if (!result.ok && (typeof result.reason !== 'string' || typeof result.message !== 'string')) violated(`${where} failed without a reason and message`);
  tally(property, result.ok ? 'ok' : `failed:${result.reason}`);
  return result;
};

// ---------------------------------------------------------------------------------------------------- bundles

const TRUST = ['pinned', 'fromBundle', 'otherPinned'] as const;

const verifyAlteredBundle = async (v1: boolean, trust: number, how: Altered): Promise<void> => {
  const original = v1 ? genuine.bundleV1 : genuine.bundle;
  const input = alter(original, how);
  const mode = TRUST[trust % TRUST.length]!;
  const options = mode === 'pinned' ? { trustedKey: key } : mode === 'otherPinned' ? { trustedKey: otherKey } : { integrityOnly: true as const };
  const result = await verified('bundle', 'verifyEvidenceBundle', () => verifyEvidenceBundle(input, options));
  if (result === undefined || !result.ok) return;
  // Verified: the bundle must say what the genuine one says.
  const fail = (why: string) => violated(`an altered evidence bundle verified (${mode} key) but ${why}`);
  if (v1) fail('it is a v1 bundle, which proves no completeness');
  if (mode === 'otherPinned') fail('it was checked against another log key');
  if (result.streamId !== STREAM) fail(`names stream ${result.streamId}`);
  const entries = (input as { entries: { event: unknown; leafIndex: unknown }[] }).entries;
  const meaning = (list: { event: unknown; leafIndex: unknown }[]) => list.map((e) => `${String(e.leafIndex)}:${eventMeaning(e.event)}`).join('\n');
  if (meaning(entries) !== meaning((original as { entries: { event: unknown; leafIndex: unknown }[] }).entries)) fail('holds other events or leaves');
  const expected = await verified('bundle', 'verifyEvidenceBundle (genuine)', () => verifyEvidenceBundle(original, { trustedKey: key }));
  if (expected?.ok && checkpointMeaning(result.checkpoint) !== checkpointMeaning(expected.checkpoint)) fail('rests on another checkpoint');
};

// -------------------------------------------------------------------------------------------- proof verifiers

/** The file-reading steps of `credence verify`: bounded JSON (bin/files.ts), then the schema. */
const fromFile = <T>(schema: { safeParse: (v: unknown) => { success: boolean; data?: T } }, value: unknown): T | undefined => {
  if (jsonLimitIssue(value, DEFAULT_JSON_LIMITS) !== undefined) return undefined;
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
};

const keyText = fc.oneof(
  { weight: 6, arbitrary: fc.constant(formatVerifierKey(key)) },
  { weight: 1, arbitrary: fc.constant(formatVerifierKey(otherKey)) },
  { weight: 1, arbitrary: fc.constantFrom(`${formatVerifierKey(key)} `, ` ${formatVerifierKey(key)}\n`, formatVerifierKey(key).replace('+', '-'), `${ORIGIN}+00000000+AAAA`, '', '+++') },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

const verifyAlteredInclusion = async (which: number, how: Altered, keyInput: string): Promise<void> => {
  const target = which % 3;
  const eventInput = target === 0 ? alter(genuine.eventJson, how) : genuine.eventJson;
  const proofInput = target === 1 ? alter(genuine.inclusion, how) : genuine.inclusion;
  const noteInput = target === 2 ? alter(genuine.checkpoint, how) : genuine.checkpoint;
  // verify --event reads an event as a bundle's: strict (review 88).
  const event = fromFile<LoggedEvent>(BundledEventJson, eventInput);
  const proof = fromFile<{ leafIndex: number; treeSize: number; hashes: Uint8Array[] }>(InclusionProofJson, proofInput);
  if (event === undefined || proof === undefined || typeof noteInput !== 'string') {
    tally('inclusion', 'not a valid file');
    return;
  }
  const result = await verified('inclusion', 'verifyEventInclusion', () => verifyEventInclusion({ event, proof, checkpointNote: noteInput, logPublicKey: keyInput }));
  if (result?.ok !== true) return;
  const fail = (why: string) => violated(`an altered event, proof or checkpoint verified but ${why}`);
  if (parseVerifierKey(keyInput.trim())?.keyId !== key.keyId) fail('under another key');
  if (eventMeaning(eventInput) !== eventMeaning(genuine.eventJson)) fail('the event is another one');
  if (proof.leafIndex !== genuine.leafIndex) fail(`at leaf ${proof.leafIndex}`);
  if (result.checkpoint.treeSize !== genuine.logged.length) fail(`at tree size ${result.checkpoint.treeSize}`);
};

const verifyAlteredConsistency = async (which: number, how: Altered, keyInput: string): Promise<void> => {
  const target = which % 3;
  const from = target === 0 ? alter(genuine.earlierCheckpoint, how) : genuine.earlierCheckpoint;
  const to = target === 1 ? alter(genuine.checkpoint, how) : genuine.checkpoint;
  const proofInput = target === 2 ? alter(genuine.consistency, how) : genuine.consistency;
  const proof = fromFile<{ first: number; second: number; hashes: Uint8Array[] }>(ConsistencyProofJson, proofInput);
  if (proof === undefined || typeof from !== 'string' || typeof to !== 'string') {
    tally('consistency', 'not a valid file');
    return;
  }
  const result = await verified('consistency', 'verifyConsistency', () => verifyConsistency(from, to, proof, keyInput));
  if (result?.ok !== true) return;
  const sizes = [result.first.treeSize, result.second.treeSize].join(' -> ');
  if (sizes !== `${genuine.logged.length - 3} -> ${genuine.logged.length}`) violated(`an altered consistency proof verified for ${sizes}`);
};

const verifyAlteredLog = async (how: Altered, noteHow: readonly NoteMutation[]): Promise<void> => {
  const entries = alter(genuine.logged.map((e) => RecordedEventJson.encode(e)), how);
  const note = noteHow.reduce<unknown>(applyNoteMutation, genuine.checkpoint) as string;
  if (!Array.isArray(entries)) return void tally('exported log', 'not a list');
  // Array.from visits the holes of a sparse list too (map and some skip them): every slot is parsed as a file would be.
  const events = Array.from(entries as unknown[], (e) => fromFile<LoggedEvent>(RecordedEventJson, e));
  if (events.some((e) => e === undefined)) return void tally('exported log', 'not a valid file');
  const result = await verified('exported log', 'verifyExportedLog', () => verifyExportedLog(events as LoggedEvent[], note, key));
  if (result?.ok !== true) return;
  const meaning = (list: unknown[]) => list.slice(0, result.checkpoint.treeSize).map(eventMeaning).join('\n');
  if (result.checkpoint.treeSize !== genuine.logged.length || meaning(entries) !== meaning(genuine.logged.map((e) => RecordedEventJson.encode(e)))) {
    violated('an altered exported log verified against the checkpoint');
  }
};

/** RFC 9162 checks fed anything: sizes and indexes of every kind of number, hashes of every length. */
const anyNumber = fc.oneof(fc.integer({ min: -2, max: 40 }), fc.constantFrom(NaN, Infinity, -Infinity, -0, 0.5, 2 ** 53, 2 ** 53 + 2, Number.MAX_VALUE, -(2 ** 31)));
const anyHash = fc.oneof({ weight: 4, arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) });

const rawProofChecks = async (a: number, b: number, leaf: Uint8Array, hashes: Uint8Array[], root: Uint8Array): Promise<void> => {
  for (const [name, run] of [
    ['verifyInclusionProof', () => verifyInclusionProof(a, b, leaf, hashes, root)],
    ['rootFromInclusionProof', () => rootFromInclusionProof(a, b, leaf, hashes)],
    ['verifyConsistencyProof', () => verifyConsistencyProof(a, b, leaf, root, hashes)],
  ] as const) {
    const ended = await ending(run);
    if (ended.kind !== 'value') untyped(name, (ended as { error: unknown }).error);
    const value = (ended as { value: unknown }).value;
    if (!(typeof value === 'boolean' || value === undefined || value instanceof Uint8Array)) violated(`${name} returned ${String(value)}`);
    tally('RFC 9162 checks', String(typeof value === 'boolean' ? value : value === undefined ? 'undefined' : 'root'));
  }
};

describe('fuzzing evidence bundles and proofs', () => {
  it.prop([fc.boolean(), fc.nat(), altered], fuzzParameters(2))(
    `an altered evidence bundle fails verification as a value, and verifies only when it means the same (${SEED_NOTE})`,
    verifyAlteredBundle,
    timeoutFor(2, 20),
  );

  it.prop([fc.nat(), altered, keyText], fuzzParameters(1))(
    `an altered event, inclusion proof or checkpoint fails verification as a value, and verifies only when it means the same (${SEED_NOTE})`,
    verifyAlteredInclusion,
    timeoutFor(1, 20),
  );

  it.prop([fc.nat(), altered, keyText], fuzzParameters(1))(
    `an altered consistency proof or checkpoint fails verification as a value, and verifies only when it means the same (${SEED_NOTE})`,
    verifyAlteredConsistency,
    timeoutFor(1, 20),
  );

  it.prop([altered, fc.array(noteMutation, { maxLength: 1 })], fuzzParameters(1))(
    `an altered exported log fails verification as a value, and verifies only when it means the same (${SEED_NOTE})`,
    verifyAlteredLog,
    timeoutFor(1, 20),
  );

  it.prop([anyNumber, anyNumber, anyHash, fc.array(anyHash, { maxLength: 70 }), anyHash], fuzzParameters(2))(
    `the RFC 9162 inclusion and consistency checks answer any size, index and bytes with a value (${SEED_NOTE})`,
    rawProofChecks,
    timeoutFor(2, 5),
  );
});
