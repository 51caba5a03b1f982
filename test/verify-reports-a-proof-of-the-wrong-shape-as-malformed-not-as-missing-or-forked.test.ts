import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { toBase64url } from '../domain/crypto/index.ts';
import {
  consistencyProof,
  eventLeafHash,
  formatCheckpointText,
  formatVerifierKey,
  inclusionProof,
  MemoryTree,
  recordedEventToJson,
  rootHash,
  verifyConsistency,
  verifyConsistencyProof,
  verifyEventInclusion,
  verifyEvidenceBundle,
  verifyInclusionProof,
} from '../domain/transparency/index.ts';
import { consistencyProofLength, inclusionProofLength } from '../domain/transparency/verify-proof.ts';
import { signNote } from '../projections/transparency/index.ts';
import { capture } from './support/cli.ts';
import { EVIDENCE_STREAM as STREAM, evidenceLog, loggedEvent } from './support/evidence-bundle.ts';
import { fixedSigner, keyOf, ORIGIN, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 217, finding 3: RFC 9162 (2.1.3.2, 2.1.4.2) fixes how many hashes a proof of (index, size) or (first, second)
 * has, and a proof of another shape was said as evidence the log lacks or a log that forked: a consistency proof cut by
 * its first hash read `FAILED (inconsistent): the tree of size 9 does not extend the tree of size 5`, a leaf index past
 * the tree and an inclusion proof with a hash too many read `not_included`. It is a malformed proof, named by its member
 * (exit 2 for a file of the caller's, a bundle's included; exit 1 from a server, as every malformed answer is).
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const signer = fixedSigner(1);
const key = keyOf(signer);
/** 70 events over three streams, one in three of STREAM. */
const events = Array.from({ length: 70 }, (_, i) => loggedEvent(i, { index: i }, i % 3 === 0 ? STREAM : `node-meter-${i % 3}`, Math.floor(i / 3)));
const log = evidenceLog(events, signer);
const { tree } = log;
const note = (size: number) => log.checkpoint(size);

describe('the length RFC 9162 fixes for a proof', () => {
  it('is the length of every proof the tree builds, inclusion and consistency, sizes 1 to 70', () => {
    for (let n = 1; n <= 70; n++) {
      for (let i = 0; i < n; i++) expect(inclusionProofLength(i, n), `leaf ${i} of ${n}`).toBe(inclusionProof(tree, i, n).length);
      for (let m = 0; m <= n; m++) expect(consistencyProofLength(m, n), `${m} to ${n}`).toBe(m === 0 || m === n ? 0 : consistencyProof(tree, m, n).length);
    }
  });

  it('is none for a leaf outside the tree or a proof from a larger tree', () => {
    expect(inclusionProofLength(9, 9)).toBeUndefined();
    expect(inclusionProofLength(0, 0)).toBeUndefined();
    expect(consistencyProofLength(9, 5)).toBeUndefined();
  });

  it('leaves the proofs that verified verifying: size 1, leaf 0, the last leaf, powers of two, from 0 and between equal sizes', () => {
    for (const n of [1, 2, 4, 8, 9, 16, 64, 65]) {
      for (const i of [0, n - 1, Math.floor(n / 2)]) {
        expect(verifyInclusionProof(i, n, eventLeafHash(events[i]!), inclusionProof(tree, i, n), rootHash(tree, n)), `leaf ${i} of ${n}`).toBe(true);
      }
      for (const m of [0, 1, n >> 1, n - 1, n].filter((m) => m <= n)) {
        const proof = m === 0 || m === n ? [] : consistencyProof(tree, m, n);
        expect(verifyConsistencyProof(m, n, rootHash(tree, m), rootHash(tree, n), proof), `${m} to ${n}`).toBe(true);
      }
    }
  });
});

describe('a proof of the wrong shape is malformed, not evidence against the log', () => {
  it('an inclusion proof with a hash too many names proof.hashes and both lengths', async () => {
    const proof = { leafIndex: 3, treeSize: 9, hashes: [...inclusionProof(tree, 3, 9), inclusionProof(tree, 4, 9)[0]!] };
    const result = verifyEventInclusion({ event: events[3]!, proof, checkpointNote: await note(9), logPublicKey: key });
    expect(result).toMatchObject({ ok: false, reason: 'malformed', issue: { path: 'proof.hashes', rule: 'proof_length' } });
    expect(!result.ok && result.message).toContain('proof.hashes: 5 hashes, a proof of leaf 3 in a tree of 9 has 4');
  });

  it('a leaf index past the tree names proof.leafIndex', async () => {
    const proof = { leafIndex: 12, treeSize: 9, hashes: inclusionProof(tree, 3, 9) };
    const result = verifyEventInclusion({ event: events[3]!, proof, checkpointNote: await note(9), logPublicKey: key });
    expect(result).toMatchObject({ ok: false, reason: 'malformed', issue: { path: 'proof.leafIndex', rule: 'leaf_not_in_tree' } });
    expect(!result.ok && result.message).toContain('proof.leafIndex: leaf 12 is not in a tree of 9 leaves');
  });

  it('a consistency proof cut by its first hash is malformed, not a fork', async () => {
    const proof = { first: 5, second: 9, hashes: consistencyProof(tree, 5, 9).slice(1) };
    const result = verifyConsistency(await note(5), await note(9), proof, key);
    expect(result).toMatchObject({ ok: false, reason: 'malformed', issue: { path: 'proof.hashes', rule: 'proof_length' } });
    expect(!result.ok && result.message).toContain(`proof.hashes: ${proof.hashes.length} hashes, a proof from 5 to 9 has ${proof.hashes.length + 1}`);
  });

  it('a proof from the empty tree holding hashes is malformed; two roots of one size are a fork whatever the proof holds', async () => {
    const fromEmpty = verifyConsistency(await note(0), await note(9), { first: 0, second: 9, hashes: consistencyProof(tree, 4, 9) }, key);
    expect(fromEmpty).toMatchObject({ ok: false, reason: 'malformed', issue: { path: 'proof.hashes', rule: 'proof_length' } });
    expect(!fromEmpty.ok && fromEmpty.message).toContain('a proof from 0 to 9 has 0');
    const other = new MemoryTree(events.map((e, i) => eventLeafHash(i === 2 ? { ...e, data: { index: -1 } } : e)));
    const forked = await signNote(signer, formatCheckpointText({ origin: ORIGIN, treeSize: 9, rootHash: rootHash(other, 9), time: '2026-02-01T00:00:00.000Z' }));
    const fork = verifyConsistency(await note(9), forked, { first: 9, second: 9, hashes: consistencyProof(tree, 4, 9) }, key);
    expect(fork).toMatchObject({ ok: false, reason: 'inconsistent', message: 'both checkpoints sign a tree of size 9, with other roots: the log forked' });
  });

  it('a proof of the right shape with a wrong hash is still not_included, or inconsistent', async () => {
    const wrong = inclusionProof(tree, 3, 9);
    wrong[0] = wrong[1]!;
    expect(verifyEventInclusion({ event: events[3]!, proof: { leafIndex: 3, treeSize: 9, hashes: wrong }, checkpointNote: await note(9), logPublicKey: key })).toMatchObject({ ok: false, reason: 'not_included' });
    const cons = consistencyProof(tree, 5, 9);
    cons[0] = cons[1]!;
    expect(verifyConsistency(await note(5), await note(9), { first: 5, second: 9, hashes: cons }, key)).toMatchObject({ ok: false, reason: 'inconsistent' });
  });
});

/** A bundle of STREAM at tree size 9, parsed back from JSON so that a test edits it as a file. */
const bundle = () => log.bundle({ streamId: STREAM, size: 9 });

describe('inside a bundle, a proof of the wrong shape is a malformed member', () => {
  it('a hash too many names entries.N.proof, as the checkpoint tree size asks', async () => {
    const json = await bundle();
    expect(verifyEvidenceBundle(json, { trustedKey: key })).toMatchObject({ ok: true });
    json.entries[1].proof.push(json.entries[1].proof[0]);
    const result = verifyEvidenceBundle(json, { trustedKey: key });
    expect(result).toMatchObject({ ok: false, reason: 'malformed', issue: { path: 'entries.1.proof', rule: 'proof_length' }, position: 4n });
    expect(!result.ok && result.message).toContain("entries.1.proof: 5 hashes, a proof of leaf 3 in a tree of 9 (the checkpoint's) has 4");
  });

  it('a leaf index past the tree names entries.N.leafIndex', async () => {
    const json = await bundle();
    json.entries[2].leafIndex = 12;
    expect(verifyEvidenceBundle(json, { trustedKey: key })).toMatchObject({ ok: false, reason: 'malformed', issue: { path: 'entries.2.leafIndex', rule: 'leaf_not_in_tree' } });
  });
});

const keyText = formatVerifierKey(key);
/** Writes `files` into a new folder and runs `credence verify` with `args`, `{}` replaced by the folder. */
const verify = async (files: Record<string, string>, args: string[]) => {
  const dir = dirs.make();
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const c = capture();
  const code = await verifyCommand([...args.map((a) => a.replace('{}', dir)), '--key', keyText], c.io);
  return { code, err: c.err.join('\n') };
};
const hashes = (proof: Uint8Array[]) => proof.map(toBase64url);

describe('credence verify: a proof file of the wrong shape is bad input (exit 2)', () => {
  it('--from/--to with the first hash dropped: exit 2 naming proof.hashes, no fork said', async () => {
    const proof = JSON.stringify({ first: 5, second: 9, hashes: hashes(consistencyProof(tree, 5, 9).slice(1)) });
    const r = await verify({ 'a.txt': await note(5), 'b.txt': await note(9), 'p.json': proof }, ['--from', '{}/a.txt', '--to', '{}/b.txt', '--proof', '{}/p.json']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/proof\.hashes: \d+ hashes, a proof from 5 to 9 has \d+/);
    expect(r.err).not.toMatch(/does not extend|inconsistent/);
  });

  it('--event with leafIndex 12 in a tree of 9, and with a hash too many: exit 2', async () => {
    const files = { 'e.json': JSON.stringify(recordedEventToJson(events[3]!)), 'c.txt': await note(9) };
    const past = await verify({ ...files, 'p.json': JSON.stringify({ leafIndex: 12, treeSize: 9, hashes: hashes(inclusionProof(tree, 3, 9)) }) }, ['--event', '{}/e.json', '--proof', '{}/p.json', '--checkpoint', '{}/c.txt']);
    expect(past.code, past.err).toBe(2);
    expect(past.err).toContain('proof.leafIndex: leaf 12 is not in a tree of 9 leaves');
    const more = await verify({ ...files, 'p.json': JSON.stringify({ leafIndex: 3, treeSize: 9, hashes: hashes([...inclusionProof(tree, 3, 9), inclusionProof(tree, 3, 9)[0]!]) }) }, ['--event', '{}/e.json', '--proof', '{}/p.json', '--checkpoint', '{}/c.txt']);
    expect(more.code, more.err).toBe(2);
    expect(more.err).toContain('proof.hashes: 5 hashes, a proof of leaf 3 in a tree of 9 has 4');
  });

  it('a bundle file with a hash too many: exit 2 naming the entry', async () => {
    const json = await bundle();
    json.entries[1].proof.push(json.entries[1].proof[0]);
    const r = await verify({ 'b.json': JSON.stringify(json) }, ['{}/b.json']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain('entries.1.proof: 5 hashes');
  });
});
