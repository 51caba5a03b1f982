import { describe, expect, it } from 'vitest';
import {
  MemoryTree,
  consistencyProof,
  emptyRootHash,
  hashLeaf,
  inclusionProof,
  rootFromInclusionProof,
  rootHash,
  rootOfLeafHashes,
  verifyConsistencyProof,
  verifyInclusionProof,
} from '../domain/transparency/index.ts';

/*
 * Known-answer vectors: github.com/transparency-dev/merkle (Apache-2.0), the RFC 6962 / RFC 9162 reference
 * tree of 8 leaves shared with Trillian and certificate-transparency-go:
 *   testonly/constants.go      LeafInputs, NodeHashes, RootHashes
 *   testonly/reference_test.go TestRefInclusionProof, TestRefConsistencyProof (0-based leaf index)
 *   proof/verify_test.go       inclusionProofs (1-based leaf number), consistencyProofs, corruption probes
 */
const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const LEAF_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(hex);

const ROOT_HASHES = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

const NODE_HASHES = [
  [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
    '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
  ],
  [
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
  ],
  [
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ],
  ['5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'],
];

/** Inclusion vectors, 0-based leaf index (reference_test.go, plus verify_test.go's 1-based ones converted). */
const INCLUSION = [
  { index: 0, size: 1, proof: [] },
  { index: 0, size: 2, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7'] },
  { index: 1, size: 2, proof: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'] },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

const CONSISTENCY = [
  { first: 1, second: 1, proof: [] },
  {
    first: 1,
    second: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    first: 6,
    second: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    first: 2,
    second: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    first: 6,
    second: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

const referenceTree = (size: number): MemoryTree => new MemoryTree(LEAF_INPUTS.slice(0, size).map(hashLeaf));
const SOME_HASH = hex('abacaba000000000000000000000000000000000000000000060061e00123456');

describe('RFC 9162 hashing against the transparency-dev reference vectors', () => {
  it('computes the root hash of every reference tree of size 0 to 8', () => {
    for (let size = 0; size <= 8; size++) {
      expect(toHex(rootHash(referenceTree(size), size)), `size ${size}`).toBe(ROOT_HASHES[size]);
      expect(toHex(rootOfLeafHashes(LEAF_INPUTS.slice(0, size).map(hashLeaf)).root)).toBe(ROOT_HASHES[size]);
    }
    expect(toHex(emptyRootHash())).toBe(ROOT_HASHES[0]);
  });

  it('stores exactly the reference hash for every complete subtree', () => {
    const tree = referenceTree(8);
    NODE_HASHES.forEach((level, l) => level.forEach((h, i) => expect(toHex(tree.nodeHash(l, i)), `(${l}, ${i})`).toBe(h)));
  });

  it('computes the roots of smaller trees from the stored nodes of a larger one', () => {
    const tree = referenceTree(8);
    for (let size = 0; size <= 8; size++) expect(toHex(rootHash(tree, size))).toBe(ROOT_HASHES[size]);
  });

  it.each(INCLUSION)('generates and verifies the reference inclusion proof of leaf $index in a tree of $size', (v) => {
    const tree = referenceTree(8);
    const proof = inclusionProof(tree, v.index, v.size);
    expect(proof.map(toHex)).toEqual(v.proof);
    const root = hex(ROOT_HASHES[v.size]!);
    expect(verifyInclusionProof(v.index, v.size, hashLeaf(LEAF_INPUTS[v.index]!), proof, root)).toBe(true);
  });

  it.each(CONSISTENCY)('generates and verifies the reference consistency proof from $first to $second', (v) => {
    const tree = referenceTree(8);
    const proof = consistencyProof(tree, v.first, v.second);
    expect(proof.map(toHex)).toEqual(v.proof);
    expect(verifyConsistencyProof(v.first, v.second, hex(ROOT_HASHES[v.first]!), hex(ROOT_HASHES[v.second]!), proof)).toBe(true);
  });

  it.each(INCLUSION.filter((v) => v.size > 1))('refuses every corrupted variant of inclusion proof $index/$size', (v) => {
    const proof = v.proof.map(hex);
    const root = hex(ROOT_HASHES[v.size]!);
    const leaf = hashLeaf(LEAF_INPUTS[v.index]!);
    const probes: [number, number, Uint8Array, Uint8Array[], Uint8Array][] = [
      [v.index - 1, v.size, leaf, proof, root],
      [v.index + 1, v.size, leaf, proof, root],
      [v.index ^ 2, v.size, leaf, proof, root],
      [v.index, v.size * 2, leaf, proof, root],
      [v.index, Math.floor(v.size / 2), leaf, proof, root],
      [v.index, v.size, hashLeaf(new TextEncoder().encode('WrongLeaf')), proof, root],
      [v.index, v.size, leaf, proof, emptyRootHash()],
      [v.index, v.size, leaf, proof, SOME_HASH],
      [v.index, v.size, leaf, [...proof, new Uint8Array(0)], root],
      [v.index, v.size, leaf, [...proof, root], root],
      [v.index, v.size, leaf, [new Uint8Array(0), ...proof], root],
      [v.index, v.size, leaf, [root, ...proof], root],
      [v.index, v.size, leaf, proof.slice(0, -1), root],
    ];
    for (const [index, size, leafHash, p, r] of probes) {
      expect(verifyInclusionProof(index, size, leafHash, p, r), `index ${index} size ${size} len ${p.length}`).toBe(false);
    }
  });

  it.each(CONSISTENCY.filter((v) => v.proof.length > 0))('refuses every corrupted variant of consistency proof $first/$second', (v) => {
    const proof = v.proof.map(hex);
    const r1 = hex(ROOT_HASHES[v.first]!);
    const r2 = hex(ROOT_HASHES[v.second]!);
    const probes: [number, number, Uint8Array, Uint8Array, Uint8Array[]][] = [
      [v.first - 1, v.second, r1, r2, proof],
      [v.first + 1, v.second, r1, r2, proof],
      [v.first ^ 2, v.second, r1, r2, proof],
      [v.first, v.second * 2, r1, r2, proof],
      [v.first, Math.floor(v.second / 2), r1, r2, proof],
      [v.first, v.second, SOME_HASH, r2, proof],
      [v.first, v.second, r1, SOME_HASH, proof],
      [v.first, v.second, r2, r1, proof],
      [v.first, v.second, r1, r2, []],
      [v.first, v.second, r1, r2, [...proof, r1]],
      [v.first, v.second, r1, r2, [...proof, r2]],
      [v.first, v.second, r1, r2, [r1, ...proof]],
      [v.first, v.second, r1, r2, [r2, ...proof]],
      [v.first, v.second, r1, r2, [proof[0]!, ...proof]],
      [v.first, v.second, r1, r2, proof.slice(0, -1)],
    ];
    for (const [first, second, a, b, p] of probes) {
      expect(verifyConsistencyProof(first, second, a, b, p), `${first}->${second} len ${p.length}`).toBe(false);
    }
  });

  it('treats equal and empty trees as RFC 9162 and the reference verifier do', () => {
    const r = SOME_HASH;
    expect(verifyConsistencyProof(0, 0, r, r, [])).toBe(true);
    expect(verifyConsistencyProof(0, 5, r, emptyRootHash(), [])).toBe(true);
    expect(verifyConsistencyProof(3, 3, r, r, [])).toBe(true);
    expect(verifyConsistencyProof(3, 3, r, emptyRootHash(), [])).toBe(false);
    expect(verifyConsistencyProof(3, 3, r, r, [emptyRootHash()])).toBe(false);
    expect(verifyConsistencyProof(0, 1, r, r, [emptyRootHash()])).toBe(false);
    expect(verifyConsistencyProof(2, 1, r, r, [])).toBe(false);
    expect(verifyConsistencyProof(1, 2, r, r, [])).toBe(false);
    expect(verifyInclusionProof(0, 0, r, [], r)).toBe(false);
    expect(verifyInclusionProof(2, 1, r, [], r)).toBe(false);
    expect(rootFromInclusionProof(0, 1, r, [])).toEqual(r);
  });
});

/** Deterministic PRNG (mulberry32) so a failing property prints a reproducible case. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const flippedCopies = (proof: readonly Uint8Array[]): Uint8Array[][] =>
  proof.flatMap((h, i) =>
    Array.from({ length: h.length }, (_, byte) => {
      const copy = proof.map((x) => x.slice());
      copy[i]![byte]! ^= 0x01;
      return copy;
    }),
  );

describe('Merkle proof properties over random trees', () => {
  const random = prng(0x9162);
  const sizes = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, ...Array.from({ length: 8 }, () => 1 + Math.floor(random() * 300))];
  const leaves = Array.from({ length: 300 }, (_, i) => hashLeaf(new TextEncoder().encode(`leaf ${i}`)));
  const tree = new MemoryTree(leaves);

  it('verifies every inclusion proof of every leaf against the root of every tree size', () => {
    for (const size of sizes) {
      const root = rootHash(tree, size);
      expect(root).toEqual(rootOfLeafHashes(leaves.slice(0, size)).root);
      for (let index = 0; index < size; index++) {
        const proof = inclusionProof(tree, index, size);
        expect(verifyInclusionProof(index, size, leaves[index]!, proof, root), `${index}/${size}`).toBe(true);
        if (size > 1) expect(verifyInclusionProof(index, size, leaves[(index + 1) % size]!, proof, root)).toBe(false);
      }
    }
  });

  it('verifies every consistency proof between any two sizes m < n', () => {
    for (let n = 1; n <= 70; n++) {
      const root2 = rootHash(tree, n);
      for (let m = 1; m < n; m++) {
        const proof = consistencyProof(tree, m, n);
        expect(verifyConsistencyProof(m, n, rootHash(tree, m), root2, proof), `${m}->${n}`).toBe(true);
      }
    }
    for (let k = 0; k < 200; k++) {
      const n = 2 + Math.floor(random() * 298);
      const m = 1 + Math.floor(random() * (n - 1));
      const proof = consistencyProof(tree, m, n);
      expect(verifyConsistencyProof(m, n, rootHash(tree, m), rootHash(tree, n), proof), `${m}->${n}`).toBe(true);
    }
  });

  it('refuses an inclusion or consistency proof with any single byte flipped', () => {
    for (let k = 0; k < 12; k++) {
      const n = 2 + Math.floor(random() * 298);
      const m = 1 + Math.floor(random() * (n - 1));
      const index = Math.floor(random() * n);
      const root = rootHash(tree, n);
      for (const bad of flippedCopies(inclusionProof(tree, index, n))) {
        expect(verifyInclusionProof(index, n, leaves[index]!, bad, root)).toBe(false);
      }
      const flippedLeaf = leaves[index]!.slice();
      flippedLeaf[k % 32]! ^= 0x80;
      expect(verifyInclusionProof(index, n, flippedLeaf, inclusionProof(tree, index, n), root)).toBe(false);
      const root1 = rootHash(tree, m);
      for (const bad of flippedCopies(consistencyProof(tree, m, n))) {
        expect(verifyConsistencyProof(m, n, root1, root, bad), `${m}->${n}`).toBe(false);
      }
    }
  });

  it('finds no consistency between a tree and a fork that rewrote one leaf', () => {
    const forked = leaves.slice(0, 40);
    forked[17] = hashLeaf(new TextEncoder().encode('rewritten'));
    const fork = new MemoryTree(forked);
    const honestProof = consistencyProof(tree, 20, 40);
    const forkProof = consistencyProof(fork, 20, 40);
    expect(verifyConsistencyProof(20, 40, rootHash(tree, 20), rootHash(fork, 40), honestProof)).toBe(false);
    expect(verifyConsistencyProof(20, 40, rootHash(tree, 20), rootHash(fork, 40), forkProof)).toBe(false);
  });
});
