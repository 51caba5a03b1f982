import { describe, expect, it } from 'vitest';
import { consistencyProof, verifyConsistency } from '../domain/transparency/index.ts';
import { forkedCheckpoints } from './support/forked-checkpoints.ts';

/*
 * Found in review 159: checkpoints of one size with other roots read "the tree of size 8 does not extend the tree of
 * size 8" (the bundle check says "the log forked"); a proof from size 0 carrying hashes read "does not extend the tree
 * of size 0"; checkpoints of two logs, the later smaller, read `rollback` rather than `origin_mismatch`.
 */
const { key, tree, fork, note } = forkedCheckpoints(3);

describe('verify --from/--to says why two checkpoints are not consistent', () => {
  it('one size, other roots: the log forked', async () => {
    const result = verifyConsistency(await note(tree, 8), await note(fork, 8), { first: 8, second: 8, hashes: [] }, key);
    expect(result).toMatchObject({ ok: false, reason: 'inconsistent', message: 'both checkpoints sign a tree of size 8, with other roots: the log forked' });
  });

  it('from size 0 with hashes: the proof must be empty, a malformed proof (review 217: of the wrong length, not a fork)', async () => {
    const result = verifyConsistency(await note(tree, 0), await note(tree, 8), { first: 0, second: 8, hashes: consistencyProof(tree, 4, 8) }, key);
    expect(result).toMatchObject({ ok: false, reason: 'malformed', issue: { path: 'proof.hashes', rule: 'proof_length' } });
    expect(!result.ok && result.message).toContain('a proof from 0 to 8 has 0');
  });

  it('two origins, the later smaller: origin_mismatch, not rollback', async () => {
    const result = verifyConsistency(await note(tree, 8), await note(tree, 4, 'another.example/log'), { first: 8, second: 4, hashes: [] }, key);
    expect(result).toMatchObject({ ok: false, reason: 'origin_mismatch' });
  });

  it('a genuine extension still verifies, and a later smaller tree of the same log is still a rollback', async () => {
    expect(verifyConsistency(await note(tree, 4), await note(tree, 8), { first: 4, second: 8, hashes: consistencyProof(tree, 4, 8) }, key)).toMatchObject({ ok: true });
    expect(verifyConsistency(await note(tree, 8), await note(tree, 4), { first: 8, second: 4, hashes: [] }, key)).toMatchObject({ ok: false, reason: 'rollback' });
  });
});
