import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digestOfRecord, sha256RecordDigest } from '../adapters/replay-workers/record-digest.ts';
import type { JsonObject, RecordedEvent } from '../domain/ports/event-store.ts';
import { recordBytes } from '../projections/replay/checkpoint.ts';

/**
 * The chained digest of a replay checkpoint is stored in `replay-checkpoint.json`: hashing it faster must not change
 * a single bit, or every existing checkpoint would read as an altered history. Reference: SHA-256 by the book.
 */
const record = (position: bigint, type: string, data: JsonObject): RecordedEvent => ({
  id: `e-${position}`, streamId: 'node-n1', revision: position - 1n, position, type, data,
  metadata: { schemaVersion: 1, occurredAt: '2026-01-01T00:00:00.000Z' },
});
const sha256 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();

describe('replay checkpoint digest', () => {
  it('chains d(n) = SHA-256(d(n-1) || SHA-256(record n)) from 32 zero bytes, as checkpoints already on disk hold it', () => {
    const records = [record(1n, 'NodeRegistered', { nodeId: 'n1' }), record(2n, 'NodeRevoked', { nodeId: 'n1', reason: 'keyCompromise' }), record(3n, 'X', { ü: 'ß' })];
    let expected = Buffer.alloc(32);
    let last = Buffer.alloc(0);
    const digest = sha256RecordDigest();
    for (const r of records) {
      last = sha256(Buffer.from(recordBytes(r), 'utf8'));
      expected = sha256(expected, last);
      digest.update(r);
      expect(digest.value()).toBe(expected.toString('hex'));
      expect(digest.last()).toBe(last.toString('hex'));
      expect(digestOfRecord(r)).toBe(last.toString('hex'));
    }
    // Continuing from a saved value is the same chain.
    const resumed = sha256RecordDigest(sha256RecordDigest().value());
    expect(resumed.value()).toBe('0'.repeat(64));
  });

  it('a changed record changes every digest after it', () => {
    const a = sha256RecordDigest();
    const b = sha256RecordDigest();
    a.update(record(1n, 'NodeRegistered', { nodeId: 'n1' }));
    b.update(record(1n, 'NodeRegistered', { nodeId: 'n2' }));
    expect(a.value()).not.toBe(b.value());
  });
});
