import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { openTransparencyLogInDir, type SqliteTransparencyLog } from '../adapters/driven/transparency/index.ts';
import {
  formatCheckpointText,
  formatSignedNote,
  noteKeyId,
  noteVerifierKey,
  verifyConsistencyProof,
  verifyInclusionProof,
  verifyNote,
  type CheckpointSigner,
} from '../domain/transparency/index.ts';
import { TransparencyProjection } from '../projections/transparency/index.ts';

/**
 * Transparency log benchmark (issue 4): leaves appended per second alongside the store, proof generation and
 * verification at 1,000,000 leaves (median, p99), checkpoint signing rate. Figures are ratios and rates from
 * one run on one machine; tests never assert them.
 */

const TREE_SIZE = 1_000_000;
const STORE_EVENTS = 20_000;
const SAMPLES = 2_000;

const rate = (count: number, ms: number): string => `${Math.round((count / ms) * 1000).toLocaleString('en')}/s`;
const micro = (ms: number): string => `${(ms * 1000).toFixed(1)} µs`;

/** Deterministic sample indexes (xorshift), so two runs measure the same proofs. */
const sampler = (seed: number) => () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
};

const timeEach = <T>(count: number, make: (i: number) => T, op: (input: T) => unknown): { median: number; p99: number } => {
  const inputs = Array.from({ length: count }, (_, i) => make(i));
  const times: number[] = [];
  for (const input of inputs) {
    const start = performance.now();
    op(input);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(count / 2)]!, p99: times[Math.floor(count * 0.99)]! };
};

const benchSigner = (): CheckpointSigner => {
  const seed = sha256(new TextEncoder().encode('credence bench log key'));
  return { keyName: 'credence.bench/log', publicKey: ed25519.getPublicKey(seed), sign: async (m) => ed25519.sign(m, seed) };
};

const alongsideStore = async (dir: string, report: (line: string) => void): Promise<void> => {
  const store = openSqliteStoreInDir(join(dir, 'store'));
  const log = openTransparencyLogInDir(join(dir, 'store'));
  const projection = new TransparencyProjection({
    store,
    log,
    signer: benchSigner(),
    origin: 'credence.bench/log',
    now: () => new Date(),
    checkpointEveryLeaves: 1000,
    checkpointEveryMs: 0,
  });
  const appendStart = performance.now();
  for (let i = 0; i < STORE_EVENTS; i++) {
    await store.appendToStream(
      `credential-bench-${i % 500}`,
      [{ id: crypto.randomUUID(), type: 'CredentialProvisioned', data: { i, keyRef: `handle-${i}` }, metadata: { actor: 'bench', occurredAt: new Date(0).toISOString() } }],
      { expectedRevision: ExpectedRevision.any },
    );
  }
  const appendMs = performance.now() - appendStart;
  const catchUpStart = performance.now();
  await projection.catchUp();
  await projection.checkpoint();
  const catchUpMs = performance.now() - catchUpStart;
  report(`transparency: store appends (1 event per append): ${rate(STORE_EVENTS, appendMs)}`);
  report(
    `transparency: log catch-up over the same ${STORE_EVENTS.toLocaleString('en')} events (read, canonicalise, hash, persist, checkpoint every 1000): ${rate(STORE_EVENTS, catchUpMs)} ` +
      `(${(appendMs / catchUpMs).toFixed(1)}x the store's append rate)`,
  );

  // Live: the projection follows while the store appends.
  await projection.start();
  const liveStart = performance.now();
  for (let i = 0; i < 5_000; i++) {
    await store.appendToStream(
      `credential-live-${i % 100}`,
      [{ id: crypto.randomUUID(), type: 'CredentialRotated', data: { i }, metadata: { actor: 'bench' } }],
      { expectedRevision: ExpectedRevision.any },
    );
  }
  await projection.waitFor((await store.headPosition())!);
  const liveMs = performance.now() - liveStart;
  report(`transparency: live, store appending with the log following: ${rate(5_000, liveMs)} events logged; lag at the end ${await projection.lag()}`);
  await projection.stop();
  await store.close();
  log.close();
};

const buildMillion = (dir: string, report: (line: string) => void): SqliteTransparencyLog => {
  const log = openTransparencyLogInDir(join(dir, 'million'));
  const batch = 10_000;
  const start = performance.now();
  const input = new Uint8Array(8);
  const view = new DataView(input.buffer);
  for (let from = 0; from < TREE_SIZE; from += batch) {
    const leaves = Array.from({ length: batch }, (_, k) => {
      view.setBigUint64(0, BigInt(from + k));
      return { position: BigInt(from + k + 1), eventId: `e${from + k}`, leafHash: sha256(input), stream: { streamId: `s${(from + k) % 1000}`, revision: BigInt(Math.floor((from + k) / 1000)) } };
    });
    log.append(leaves);
  }
  const ms = performance.now() - start;
  report(`transparency: bulk build of ${TREE_SIZE.toLocaleString('en')} persisted leaves (batches of ${batch}): ${(ms / 1000).toFixed(1)} s, ${rate(TREE_SIZE, ms)}`);
  return log;
};

const proofs = (log: SqliteTransparencyLog, report: (line: string) => void): void => {
  const next = sampler(0x9162);
  const n = log.size();
  const root = log.rootHash(n);
  const incGen = timeEach(SAMPLES, () => Math.floor(next() * n), (i) => log.inclusionProof(i, n));
  const incInputs = () => {
    const index = Math.floor(next() * n);
    return { index, hash: log.leafAt(index)!.leafHash, proof: log.inclusionProof(index, n) };
  };
  const incVer = timeEach(SAMPLES, incInputs, (x) => {
    if (!verifyInclusionProof(x.index, n, x.hash, x.proof, root)) throw new Error('bench: inclusion proof failed');
  });
  const sizes = () => {
    const m = 1 + Math.floor(next() * (n - 1));
    return { m, root1: log.rootHash(m) };
  };
  const conGen = timeEach(SAMPLES, sizes, ({ m }) => log.consistencyProof(m, n));
  const verInputs = Array.from({ length: SAMPLES }, () => {
    const { m, root1 } = sizes();
    return { m, root1, proof: log.consistencyProof(m, n) };
  });
  const conVerified = timeEach(SAMPLES, (i) => verInputs[i]!, (x) => {
    if (!verifyConsistencyProof(x.m, n, x.root1, root, x.proof)) throw new Error('bench: consistency proof failed');
  });
  report(`transparency: inclusion proof at ${n.toLocaleString('en')} leaves: generate median ${micro(incGen.median)}, p99 ${micro(incGen.p99)}; verify median ${micro(incVer.median)}, p99 ${micro(incVer.p99)}`);
  report(`transparency: consistency proof to ${n.toLocaleString('en')} leaves: generate median ${micro(conGen.median)}, p99 ${micro(conGen.p99)}; verify median ${micro(conVerified.median)}, p99 ${micro(conVerified.p99)}`);
};

const signing = async (log: SqliteTransparencyLog, report: (line: string) => void): Promise<void> => {
  const signer = benchSigner();
  const keyId = noteKeyId(signer.keyName, signer.publicKey);
  const count = 2_000;
  const notes: string[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const treeSize = log.size() - i;
    const text = formatCheckpointText({ origin: signer.keyName, treeSize, rootHash: log.rootHash(treeSize), time: new Date().toISOString() });
    const signature = await signer.sign(new TextEncoder().encode(text));
    notes.push(formatSignedNote({ text, signatures: [{ keyName: signer.keyName, keyId, signature }] }));
  }
  const ms = performance.now() - start;
  const key = noteVerifierKey(signer.keyName, signer.publicKey);
  const verifyStart = performance.now();
  for (const note of notes) if (!verifyNote(note, key).ok) throw new Error('bench: checkpoint did not verify');
  const verifyMs = performance.now() - verifyStart;
  report(`transparency: checkpoint signing (root of a 1M-leaf tree + Ed25519 signed note): ${rate(count, ms)}; checkpoint verification ${rate(count, verifyMs)}`);
};

export async function benchTransparency(report: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'credence-bench-tlog-'));
  try {
    await alongsideStore(dir, report);
    const log = buildMillion(dir, report);
    try {
      proofs(log, report);
      await signing(log, report);
    } finally {
      log.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchTransparency((line) => console.log(line));
}
