import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { consistencyProof, formatVerifierKey, verifyConsistency } from '../domain/transparency/index.ts';
import { capture } from './support/cli.ts';
import { forkedCheckpoints } from './support/forked-checkpoints.ts';
import { tempDirs } from './transparency-fixtures.ts';

/*
 * Review 296 item 1: two checkpoints signed by the pinned key, both of tree size 8 with other roots, and a proof file
 * from 5 to 8 read `FAILED (proof_size_mismatch)`, though the two signed notes alone prove the log forked (a proof can
 * neither show nor undo that). The fork is now said before the proof's sizes and shape are looked at.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const { key, tree, fork, note } = forkedCheckpoints(6);
const FORKED = { ok: false, reason: 'inconsistent', message: 'both checkpoints sign a tree of size 8, with other roots: the log forked' };

describe('verify --from/--to over two signed checkpoints of one size with other roots', () => {
  it('is a fork whatever proof is given: of other sizes, of the wrong shape, or empty', async () => {
    const [a, b] = [await note(tree, 8), await note(fork, 8)];
    const proofs = [
      { first: 5, second: 8, hashes: consistencyProof(tree, 5, 8) },
      { first: 5, second: 8, hashes: [] },
      { first: 0, second: 3, hashes: [] },
      { first: 8, second: 8, hashes: [] },
      { first: 8, second: 8, hashes: consistencyProof(tree, 4, 8) },
    ];
    for (const proof of proofs) expect(verifyConsistency(a, b, proof, key), `${proof.first}..${proof.second}`).toMatchObject(FORKED);
  });

  it('says so from the command line too, with a proof file for 5..8 (exit 1, not proof_size_mismatch)', async () => {
    const dir = dirs.make();
    writeFileSync(join(dir, 'a.txt'), await note(tree, 8));
    writeFileSync(join(dir, 'b.txt'), await note(fork, 8));
    const proof = { first: 5, second: 8, hashes: consistencyProof(tree, 5, 8).map((h) => Buffer.from(h).toString('base64url')) };
    writeFileSync(join(dir, 'p.json'), JSON.stringify(proof));
    const c = capture();
    const code = await verifyCommand(['--from', join(dir, 'a.txt'), '--to', join(dir, 'b.txt'), '--proof', join(dir, 'p.json'), '--key', formatVerifierKey(key)], c.io);
    expect(c.err.join('\n')).toBe('FAILED (inconsistent): both checkpoints sign a tree of size 8, with other roots: the log forked');
    expect(code).toBe(1);
  });

  it('still names a proof of other sizes between two checkpoints that do not fork', async () => {
    expect(verifyConsistency(await note(tree, 4), await note(tree, 8), { first: 5, second: 8, hashes: consistencyProof(tree, 5, 8) }, key)).toMatchObject({
      ok: false,
      reason: 'proof_size_mismatch',
    });
    expect(verifyConsistency(await note(tree, 8), await note(tree, 8), { first: 5, second: 8, hashes: [] }, key)).toMatchObject({ ok: false, reason: 'proof_size_mismatch' });
  });
});
