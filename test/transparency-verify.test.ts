import { describe, expect, it } from 'vitest';
import { type RecordedEvent } from '../domain/ports/index.ts';
import {
  EvidenceBundleSchema,
  MemoryTree,
  RecordedEventJson,
  buildEvidenceBundle,
  consistencyProof,
  eventLeafBytes,
  eventLeafHash,
  formatCheckpointText,
  formatStreamHeadText,
  formatSignedNote,
  formatVerifierKey,
  inclusionProof,
  noteKeyId,
  rootHash,
  streamRootOf,
  verifyConsistency,
  verifyEventInclusion,
  verifyEvidenceBundle,
  verifyExportedLog,
  type CheckpointSigner,
} from '../domain/transparency/index.ts';
import { signNote } from '../projections/transparency/index.ts';
import { ORIGIN, eventId, fixedSigner, keyOf } from './transparency-fixtures.ts';

const event = (i: number, streamId = 'credential-meter-1', revision = BigInt(i)): RecordedEvent => ({
  id: eventId(i),
  streamId,
  revision,
  position: BigInt(100 + i * 2),
  type: 'CredentialProvisioned',
  data: { index: i, keyRef: `handle-${i}` },
  metadata: { actor: 'operator-1', requestSignature: { alg: 'Ed25519', keyFingerprint: 'fp-1', sig: `sig-${i}` } },
});

const signedCheckpoint = async (tree: MemoryTree, size: number, signer: CheckpointSigner, time = '2026-02-01T00:00:00.000Z') => {
  const text = formatCheckpointText({ origin: ORIGIN, treeSize: size, rootHash: rootHash(tree, size), time });
  const signature = await signer.sign(new TextEncoder().encode(text));
  return formatSignedNote({ text, signatures: [{ keyName: signer.keyName, keyId: noteKeyId(signer.keyName, signer.publicKey), signature }] });
};

const signer = fixedSigner(1);
const key = keyOf(signer);
const events = Array.from({ length: 11 }, (_, i) => event(i));
const tree = new MemoryTree(events.map(eventLeafHash));

describe('leaf envelope', () => {
  it('is the RFC 8785 canonical JSON of position, stream, revision, id, type, data and metadata', () => {
    const e: RecordedEvent = { id: 'e1', streamId: 's-1', revision: 2n, position: 2n ** 60n, type: 'T', data: { b: 1, a: [true, null] }, metadata: { z: 'ü', y: 1e21 } };
    expect(new TextDecoder().decode(eventLeafBytes(e))).toBe(
      '{"data":{"a":[true,null],"b":1},"id":"e1","metadata":{"y":1e+21,"z":"ü"},"position":"1152921504606846976","revision":"2","streamId":"s-1","type":"T"}',
    );
  });

  it('changes when the event moves to another position, even with the same content', () => {
    expect(eventLeafHash({ ...events[3]!, position: events[3]!.position + 1n })).not.toEqual(eventLeafHash(events[3]!));
  });
});

describe('offline verifier (a): one event, its proof, a checkpoint and the log key', () => {
  it('accepts an event with its inclusion proof against a signed checkpoint', async () => {
    const note = await signedCheckpoint(tree, 11, signer);
    const proof = { leafIndex: 6, treeSize: 11, hashes: inclusionProof(tree, 6, 11) };
    expect(verifyEventInclusion({ event: events[6]!, proof, checkpointNote: note, logPublicKey: key })).toMatchObject({ ok: true, checkpoint: { treeSize: 11 } });
  });

  it('takes the log key in its text form too, and refuses one that is not a verifier key', async () => {
    const note = await signedCheckpoint(tree, 11, signer);
    const proof = { leafIndex: 1, treeSize: 11, hashes: inclusionProof(tree, 1, 11) };
    expect(verifyEventInclusion({ event: events[1]!, proof, checkpointNote: note, logPublicKey: formatVerifierKey(key) })).toMatchObject({ ok: true });
    expect(verifyEventInclusion({ event: events[1]!, proof, checkpointNote: note, logPublicKey: 'not-a-key' })).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('rejects a proof presented for a different event', async () => {
    const note = await signedCheckpoint(tree, 11, signer);
    const proof = { leafIndex: 6, treeSize: 11, hashes: inclusionProof(tree, 6, 11) };
    expect(verifyEventInclusion({ event: events[7]!, proof, checkpointNote: note, logPublicKey: key })).toMatchObject({ ok: false, reason: 'not_included', position: events[7]!.position });
  });

  it('rejects an event whose data was altered after logging', async () => {
    const note = await signedCheckpoint(tree, 11, signer);
    const proof = { leafIndex: 2, treeSize: 11, hashes: inclusionProof(tree, 2, 11) };
    const altered = { ...events[2]!, data: { ...events[2]!.data, keyRef: 'handle-evil' } };
    expect(verifyEventInclusion({ event: altered, proof, checkpointNote: note, logPublicKey: key })).toMatchObject({ ok: false, reason: 'not_included' });
  });

  it('rejects a checkpoint with a forged signature or signed by another key', async () => {
    const note = await signedCheckpoint(tree, 11, signer);
    const proof = { leafIndex: 0, treeSize: 11, hashes: inclusionProof(tree, 0, 11) };
    const forgedRoot = note.replace(/\n11\n/, '\n12\n');
    expect(verifyEventInclusion({ event: events[0]!, proof, checkpointNote: forgedRoot, logPublicKey: key })).toMatchObject({ ok: false, reason: 'bad_checkpoint_signature' });
    const impostor = fixedSigner(2);
    const byImpostor = await signedCheckpoint(tree, 11, impostor);
    expect(verifyEventInclusion({ event: events[0]!, proof, checkpointNote: byImpostor, logPublicKey: key })).toMatchObject({ ok: false, reason: 'bad_checkpoint_signature' });
  });

  it('rejects a proof made for another tree size than the checkpoint', async () => {
    const note = await signedCheckpoint(tree, 11, signer);
    const proof = { leafIndex: 3, treeSize: 10, hashes: inclusionProof(tree, 3, 10) };
    expect(verifyEventInclusion({ event: events[3]!, proof, checkpointNote: note, logPublicKey: key })).toMatchObject({ ok: false, reason: 'proof_size_mismatch' });
  });
});

describe('offline verifier (b): a whole exported log', () => {
  it('recomputes the signed root from the exported events and counts those past the checkpoint', async () => {
    const note = await signedCheckpoint(tree, 9, signer);
    expect(verifyExportedLog(events, note, key)).toMatchObject({ ok: true, verified: 9, beyondCheckpoint: 2 });
  });

  it('rejects an export with an altered, reordered or missing event', async () => {
    const note = await signedCheckpoint(tree, 11, signer);
    const altered = events.map((e, i) => (i === 4 ? { ...e, type: 'CredentialRevoked' } : e));
    expect(verifyExportedLog(altered, note, key)).toMatchObject({ ok: false, reason: 'root_mismatch' });
    const reordered = [...events];
    [reordered[3], reordered[4]] = [reordered[4]!, reordered[3]!];
    expect(verifyExportedLog(reordered, note, key)).toMatchObject({ ok: false, reason: 'out_of_order', position: events[3]!.position });
    expect(verifyExportedLog(events.slice(0, 10), note, key)).toMatchObject({ ok: false, reason: 'missing_entries' });
    const dropped = events.filter((_, i) => i !== 5);
    expect(verifyExportedLog(dropped, note, key)).toMatchObject({ ok: false, reason: 'missing_entries' });
  });
});

describe('offline verifier (c): consistency between two checkpoints', () => {
  it('accepts a consistency proof from the earlier checkpoint to the later one of the same log', async () => {
    const a = await signedCheckpoint(tree, 5, signer);
    const b = await signedCheckpoint(tree, 11, signer, '2026-02-02T00:00:00.000Z');
    const proof = { first: 5, second: 11, hashes: consistencyProof(tree, 5, 11) };
    expect(verifyConsistency(a, b, proof, key)).toMatchObject({ ok: true });
  });

  it('refuses the later checkpoint given as the earlier one: a log answering with an older tree was rolled back', async () => {
    const a = await signedCheckpoint(tree, 5, signer);
    const b = await signedCheckpoint(tree, 11, signer, '2026-02-02T00:00:00.000Z');
    const proof = { first: 5, second: 11, hashes: consistencyProof(tree, 5, 11) };
    expect(verifyConsistency(b, a, proof, key)).toMatchObject({ ok: false, reason: 'rollback' });
  });

  it('rejects consistency between checkpoints of a forked history', async () => {
    const forkedEvents = events.map((e, i) => (i === 2 ? { ...e, data: { rewritten: true } } : e));
    const fork = new MemoryTree(forkedEvents.map(eventLeafHash));
    const a = await signedCheckpoint(tree, 5, signer);
    const b = await signedCheckpoint(fork, 11, signer);
    for (const source of [tree, fork]) {
      const proof = { first: 5, second: 11, hashes: consistencyProof(source, 5, 11) };
      expect(verifyConsistency(a, b, proof, key)).toMatchObject({ ok: false, reason: 'inconsistent' });
    }
  });

  it('rejects a consistency proof whose checkpoints are not both signed by the log key', async () => {
    const a = await signedCheckpoint(tree, 5, signer);
    const b = await signedCheckpoint(tree, 11, fixedSigner(3));
    const proof = { first: 5, second: 11, hashes: consistencyProof(tree, 5, 11) };
    expect(verifyConsistency(a, b, proof, key)).toMatchObject({ ok: false, reason: 'bad_checkpoint_signature' });
  });
});

describe('evidence bundle', () => {
  const stream = events.filter((_, i) => i % 2 === 0).map((e, revision) => ({ ...e, revision: BigInt(revision) }));
  const streamTree = new MemoryTree(
    events.map((e, i) => eventLeafHash(i % 2 === 0 ? stream[i / 2]! : e)),
  );
  const bundle = async (trustedSigner = signer) => {
    const note = await signedCheckpoint(streamTree, 11, trustedSigner);
    const streamHeadNote = await signNote(
      trustedSigner,
      formatStreamHeadText({
        origin: ORIGIN,
        treeSize: 11,
        rootHash: rootHash(streamTree, 11),
        streamId: 'credential-meter-1',
        events: stream.length,
        streamRoot: streamRootOf(stream.map(eventLeafHash)),
      }),
    );
    const entries = stream.map((e, i) => ({ event: e, leafIndex: i * 2, proof: inclusionProof(streamTree, i * 2, 11) }));
    return JSON.parse(JSON.stringify(buildEvidenceBundle({ streamId: 'credential-meter-1', entries, checkpointNote: note, streamHeadNote, logPublicKey: keyOf(trustedSigner) })));
  };

  it('round-trips through JSON and verifies offline with the pinned log key', async () => {
    const json = await bundle();
    expect(EvidenceBundleSchema.safeParse(json).success).toBe(true);
    expect(json.entries[0].proof[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(RecordedEventJson.parse(json.entries[1].event)).toEqual(stream[1]);
    expect(verifyEvidenceBundle(json, { trustedKey: key })).toMatchObject({ ok: true, events: stream.length, keyFromBundle: false });
    // With the key the bundle names: integrity only, and only when asked for by name (review 30, D1).
    expect(verifyEvidenceBundle(json, { integrityOnly: true })).toMatchObject({ ok: true, keyFromBundle: true });
  });

  it('rejects a bundle whose event was altered, whose history has a hole, or that belongs to another stream', async () => {
    const altered = await bundle();
    altered.entries[2].event.metadata.actor = 'someone-else';
    expect(verifyEvidenceBundle(altered, { trustedKey: key })).toMatchObject({ ok: false, reason: 'not_included', position: stream[2]!.position });
    const holed = await bundle();
    holed.entries.splice(1, 1);
    expect(verifyEvidenceBundle(holed, { trustedKey: key })).toMatchObject({ ok: false, reason: 'incomplete_history' });
    const other = await bundle();
    other.streamId = 'credential-meter-2';
    expect(verifyEvidenceBundle(other, { trustedKey: key })).toMatchObject({ ok: false, reason: 'wrong_stream' });
  });

  it('rejects a bundle signed by another key than the pinned one, even if it carries that key', async () => {
    const json = await bundle(fixedSigner(4));
    expect(verifyEvidenceBundle(json, { trustedKey: key })).toMatchObject({ ok: false, reason: 'untrusted_key' });
  });

  it('rejects a file that is not a bundle, naming the field', () => {
    expect(verifyEvidenceBundle({ format: 'credence-evidence-bundle/v1', streamId: 'x' }, { trustedKey: key })).toMatchObject({ ok: false, reason: 'malformed' });
    const result = verifyEvidenceBundle({ format: 'nope' }, { trustedKey: key });
    expect(result.ok === false && result.message).toMatch(/format/);
  });
});
