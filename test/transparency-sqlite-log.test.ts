import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  KEY_FILE,
  PUBLIC_KEY_FILE,
  openKeyFileSigner,
  openKeyFileSignerInDir,
  openSecureEnvironmentSignerInDir,
  LOG_KEY_OWNER,
  openTransparencyLog,
  signerVerifierKey,
} from '../adapters/driven/transparency/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { signNote } from '../projections/transparency/index.ts';
import { ORIGIN, fixedSigner } from './transparency-fixtures.ts';
import {
  MemoryTree,
  formatVerifierKey,
  hashLeaf,
  inclusionProof,
  consistencyProof,
  formatCheckpointText,
  parseVerifierKey,
  rootHash,
  verifyNote,
  type HashSource,
} from '../domain/transparency/index.ts';

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-tlog-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const leafHashes = (n: number, from = 0) => Array.from({ length: n }, (_, i) => hashLeaf(new TextEncoder().encode(`event ${from + i}`)));
const leavesFor = (hashes: Uint8Array[], firstPosition = 1n) =>
  hashes.map((leafHash, i) => {
    const position = firstPosition + BigInt(i) * 3n;
    return { position, eventId: `e-${position}`, leafHash, stream: { streamId: `s-${position % 2n}`, revision: position / 2n } };
  });

describe('SQLite transparency log', () => {
  it('gives the same roots and proofs as the in-memory reference tree for every size', () => {
    const hashes = leafHashes(77);
    const log = openTransparencyLog({ memory: true });
    log.append(leavesFor(hashes.slice(0, 30)));
    log.append(leavesFor(hashes.slice(30), 1n + 30n * 3n));
    const memory = new MemoryTree(hashes);
    expect(log.size()).toBe(77);
    for (let size = 0; size <= 77; size++) expect(log.rootHash(size)).toEqual(rootHash(memory, size));
    for (const [index, size] of [[0, 1], [5, 6], [40, 77], [76, 77], [13, 64]] as const) {
      expect(log.inclusionProof(index, size)).toEqual(inclusionProof(memory, index, size));
    }
    for (const [m, n] of [[1, 77], [30, 31], [32, 64], [33, 77]] as const) {
      expect(log.consistencyProof(m, n)).toEqual(consistencyProof(memory, m, n));
    }
    log.close();
  });

  it('resumes from the file after a restart and keeps appending to the same tree', () => {
    const file = join(tempDir(), 'transparency.db');
    const hashes = leafHashes(50);
    const first = openTransparencyLog({ file });
    first.append(leavesFor(hashes.slice(0, 21)));
    first.close();
    const second = openTransparencyLog({ file });
    expect(second.size()).toBe(21);
    expect(second.lastPosition()).toBe(1n + 20n * 3n);
    second.append(leavesFor(hashes.slice(21), 1n + 21n * 3n));
    expect(second.rootHash()).toEqual(new MemoryTree(hashes).root());
    expect(second.leafAt(21)).toMatchObject({ leafIndex: 21, position: 64n, eventId: 'e-64' });
    expect(second.leafByPosition(64n)?.leafIndex).toBe(21);
    expect(second.leafByEventId('e-64')?.leafIndex).toBe(21);
    expect([...second.leaves(48)].map((l) => l.leafIndex)).toEqual([48, 49]);
    second.close();
  });

  it('lets two connections append alternately without corrupting the tree', () => {
    const file = join(tempDir(), 'transparency.db');
    const hashes = leafHashes(20);
    const leaves = leavesFor(hashes);
    const a = openTransparencyLog({ file });
    const b = openTransparencyLog({ file });
    a.append(leaves.slice(0, 5));
    b.append(leaves.slice(5, 9));
    a.append(leaves.slice(7, 15)); // 7 and 8 are already logged by b: skipped, not duplicated
    b.append(leaves.slice(15));
    // Each counts the file's leaves, the other connection's too (review 418), and holds the whole tree.
    expect(a.size()).toBe(20);
    expect(a.rootHash()).toEqual(new MemoryTree(hashes).root());
    expect(b.size()).toBe(20);
    expect(b.rootHash()).toEqual(new MemoryTree(hashes).root());
    a.close();
    b.close();
  });

  it('refuses a leaf whose position does not follow the last one and writes nothing of that batch', () => {
    const log = openTransparencyLog({ memory: true });
    const leaves = leavesFor(leafHashes(4));
    log.append(leaves.slice(0, 2));
    expect(() => log.append([leaves[2]!, { ...leaves[3]!, position: 2n, eventId: 'other' }])).toThrow(/position 2/);
    expect(log.size()).toBe(2);
    expect(log.rootHash()).toEqual(new MemoryTree(leaves.slice(0, 2).map((l) => l.leafHash)).root());
    log.close();
  });

  it('keeps one checkpoint per tree size and finds the smallest one covering a size', async () => {
    const log = openTransparencyLog({ memory: true });
    log.append(leafHashes(9).map((leafHash, i) => ({ position: BigInt(i + 1), eventId: `e${i}`, leafHash, stream: { streamId: 'node-a', revision: BigInt(i) } })));
    const signer = fixedSigner();
    const cp = async (treeSize: number, time: string) => {
      const rootHash = log.rootHash(treeSize);
      return { treeSize, rootHash, time, note: await signNote(signer, formatCheckpointText({ origin: ORIGIN, treeSize, rootHash, time })) };
    };
    const first = await cp(3, '2026-01-01T00:00:00.000Z');
    log.saveCheckpoint(first);
    log.saveCheckpoint(await cp(3, '2026-01-01T00:00:01.000Z'));
    const third = await cp(9, '2026-01-01T00:00:02.000Z');
    log.saveCheckpoint(third);
    expect(log.checkpointAt(3)?.note).toBe(first.note);
    expect(log.checkpointCovering(4)?.treeSize).toBe(9);
    expect(log.latestCheckpoint()?.note).toBe(third.note);
    expect([...log.checkpoints()].map((c) => c.note)).toEqual([first.note, third.note]);
    log.close();
  });
});

describe('proof cost', () => {
  const counting = (source: HashSource) => {
    let reads = 0;
    return { source: { nodeHash: (l: number, i: number) => (reads++, source.nodeHash(l, i)) }, reads: () => reads };
  };

  it('reads O(log n) stored nodes per root, inclusion proof and consistency proof', () => {
    const n = 5000; // not a power of two: the right edge is recomputed from stored perfect subtrees
    const tree = new MemoryTree(leafHashes(n));
    const bound = 2 * Math.ceil(Math.log2(n)) + 2;
    for (const [index, m] of [[0, 1], [4999, 4097], [2500, 3333]] as const) {
      const c1 = counting(tree);
      rootHash(c1.source, n);
      expect(c1.reads()).toBeLessThanOrEqual(bound);
      const c2 = counting(tree);
      inclusionProof(c2.source, index, n);
      expect(c2.reads()).toBeLessThanOrEqual(bound);
      const c3 = counting(tree);
      consistencyProof(c3.source, m, n);
      expect(c3.reads()).toBeLessThanOrEqual(bound);
    }
  });
});

describe('log key file', () => {
  it('creates the key with mode 0600, writes the public key beside it, and reopens the same key', async () => {
    const dir = tempDir();
    const signer = openKeyFileSignerInDir(dir, 'credence.test/log');
    expect(statSync(join(dir, KEY_FILE)).mode & 0o777).toBe(0o600);
    const published = readFileSync(join(dir, PUBLIC_KEY_FILE), 'utf8').trim();
    expect(parseVerifierKey(published)).toEqual(signerVerifierKey(signer));
    const again = openKeyFileSigner({ path: join(dir, KEY_FILE), keyName: 'credence.test/log' });
    expect(again.publicKey).toEqual(signer.publicKey);
    const text = 'credence.test/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ntime 2026-01-01T00:00:00.000Z\n';
    const signature = await again.sign(new TextEncoder().encode(text));
    const key = signerVerifierKey(signer);
    const note = `${text}\n— ${key.keyName} ${Buffer.concat([Buffer.from(key.keyId.toString(16).padStart(8, '0'), 'hex'), signature]).toString('base64')}\n`;
    expect(verifyNote(note, key)).toEqual({ ok: true, text });
    expect(formatVerifierKey(key)).toBe(published);
  });

  it('exposes only the key name, the public key and a sign function', () => {
    const signer = openKeyFileSignerInDir(tempDir(), 'credence.test/log');
    expect(Object.keys(signer).sort()).toEqual(['keyName', 'publicKey', 'sign']);
    expect(JSON.stringify(signer)).not.toMatch(/PRIVATE/);
  });

  it('refuses a key file that group or others can read', () => {
    const dir = tempDir();
    openKeyFileSignerInDir(dir, 'credence.test/log');
    chmodSync(join(dir, KEY_FILE), 0o644);
    expect(() => openKeyFileSignerInDir(dir, 'credence.test/log')).toThrow(/chmod 600/);
  });

  it('refuses a key file made for another log name, or a damaged one, without echoing its contents', () => {
    const dir = tempDir();
    openKeyFileSignerInDir(dir, 'credence.test/log');
    expect(() => openKeyFileSigner({ path: join(dir, KEY_FILE), keyName: 'other.example/log' })).toThrow(/not other.example\/log/);
    const path = join(dir, 'damaged.key');
    writeFileSync(path, 'PRIVATE+KEY+credence.test/log+00000000+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz\n', { mode: 0o600 });
    let message = '';
    try {
      openKeyFileSigner({ path, keyName: 'credence.test/log' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/key ID does not match/);
    expect(message).not.toMatch(/AYEKF/);
  });

  it('does not create a key when asked only to open one', () => {
    expect(() => openKeyFileSigner({ path: join(tempDir(), KEY_FILE), keyName: 'credence.test/log' })).toThrow(/does not exist/);
  });
});

describe('log key in the Secure Environment', () => {
  it('signs checkpoints through a key handle, keeps only the handle on disk, and reopens the same key', async () => {
    const dir = tempDir();
    const se = memorySecureEnvironment('transparency-log-key', () => new Date('2026-01-01T00:00:00.000Z'));
    const signer = await openSecureEnvironmentSignerInDir(dir, se.forOwner(LOG_KEY_OWNER), 'credence.test/log');
    const handle = readFileSync(join(dir, 'transparency.handle'), 'utf8').trim();
    expect(handle).toMatch(/^key_/);
    const again = await openSecureEnvironmentSignerInDir(dir, se.forOwner(LOG_KEY_OWNER), 'credence.test/log');
    expect(again.publicKey).toEqual(signer.publicKey);
    const key = signerVerifierKey(signer);
    expect(readFileSync(join(dir, PUBLIC_KEY_FILE), 'utf8').trim()).toBe(formatVerifierKey(key));
    const text = 'credence.test/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ntime 2026-01-01T00:00:00.000Z\n';
    const signature = await again.sign(new TextEncoder().encode(text));
    const note = `${text}\n— ${key.keyName} ${Buffer.concat([Buffer.from(key.keyId.toString(16).padStart(8, '0'), 'hex'), signature]).toString('base64')}\n`;
    expect(verifyNote(note, key)).toEqual({ ok: true, text });
  });
});
