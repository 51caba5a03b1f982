import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loggedEvent } from './support/evidence-bundle.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyBundle as consoleVerifyBundle } from '../adapters/console/src/evidence.ts';
import { main } from '../bin/cli.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import type { RecordedEvent } from '../domain/ports/index.ts';
import {
  MemoryTree,
  buildEvidenceBundle,
  eventLeafHash,
  formatCheckpointText,
  formatStreamHeadText,
  formatVerifierKey,
  inclusionProof,
  rootHash,
  streamRootOf,
  verifyEvidenceBundle,
  type BundleKeyTrust,
  type CheckpointSigner,
} from '../domain/transparency/index.ts';
import { signNote } from '../projections/transparency/index.ts';
import { cannedServer } from './support/canned-server.ts';
import { capture } from './support/cli.ts';
import { ORIGIN, fixedSigner, keyOf, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 30. D1: `credence verify FILE.json` without --key exited 0 on a bundle forged under a key of the forger's
 * own (the key the bundle names), `--json` said `"ok": true`, and the console said "Verified.": the log's key is
 * obtained out of band (RFC 9162 4.1), never from what is being checked. D2: the console's "Fetch and verify" took
 * a genuine bundle of another entity as the one asked for. D5: `--json` printed the checkpoint's root hash as
 * {"0":252,"1":139,...}.
 */

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const STREAM = 'credential-meter-1';
const real = fixedSigner(1, ORIGIN);
const attacker = fixedSigner(66, ORIGIN);

const ev = (revision: number, data: RecordedEvent['data'], streamId = STREAM): RecordedEvent => loggedEvent(revision, data, streamId);

/** A bundle of `events` signed by `signer` and naming its key, as `credence export` writes one; parsed back from JSON. */
const makeBundle = async (signer: CheckpointSigner, events: RecordedEvent[]): Promise<Record<string, any>> => {
  const tree = new MemoryTree(events.map(eventLeafHash));
  const size = events.length;
  const root = rootHash(tree, size);
  const json = buildEvidenceBundle({
    streamId: events[0]!.streamId,
    entries: events.map((event, leafIndex) => ({ event, leafIndex, proof: inclusionProof(tree, leafIndex, size) })),
    checkpointNote: await signNote(signer, formatCheckpointText({ origin: ORIGIN, treeSize: size, rootHash: root, time: '2026-02-01T00:00:00.000Z' })),
    streamHeadNote: await signNote(
      signer,
      formatStreamHeadText({ origin: ORIGIN, treeSize: size, rootHash: root, streamId: events[0]!.streamId, events: size, streamRoot: streamRootOf(events.map(eventLeafHash)) }),
    ),
    logPublicKey: keyOf(signer),
  });
  return JSON.parse(JSON.stringify(json));
};

const fileOf = (bundle: unknown): string => {
  const file = join(dirs.make(), 'bundle.json');
  writeFileSync(file, JSON.stringify(bundle, null, 2));
  return file;
};

const verify = async (argv: string[]) => {
  const c = capture();
  return { code: await verifyCommand(argv, c.io), out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('credence verify FILE.json and a bundle forged under its own key', () => {
  it('is bad usage without --key (exit 2, naming --key), in text and with --json: never ok', async () => {
    const file = fileOf(await makeBundle(attacker, [ev(0, { index: 0, note: 'fabricated history' })]));
    for (const format of [[], ['--json']]) {
      const refused = await verify([file, ...format]);
      expect(refused.code, refused.err).toBe(2);
      expect(refused.err).toMatch(/--key: required to verify a bundle/);
      expect(refused.out).not.toMatch(/"ok": true|^ok:/m);
    }
  });

  it('fails against the real log key (untrusted_key), and verifies against the key pinned', async () => {
    const file = fileOf(await makeBundle(attacker, [ev(0, { index: 0, note: 'fabricated history' })]));
    const forged = await verify([file, '--key', formatVerifierKey(keyOf(real))]);
    expect(forged.code).toBe(1);
    expect(forged.err).toMatch(/^FAILED \(untrusted_key\)/);
    const genuine = await verify([fileOf(await makeBundle(real, [ev(0, { index: 0 })])), '--key', formatVerifierKey(keyOf(real))]);
    expect(genuine.code, genuine.err).toBe(0);
    expect(genuine.err).toBe('');
  });
});

describe('verifyEvidenceBundle without a pinned key', () => {
  it('is never ok: key_not_pinned, unless integrity under the bundle key is asked for by name', async () => {
    const forged = await makeBundle(attacker, [ev(0, { index: 0, note: 'fabricated history' })]);
    // A caller from JavaScript passing nothing, or an empty choice.
    for (const none of [undefined, {}] as unknown as BundleKeyTrust[]) {
      const result = verifyEvidenceBundle(forged, none);
      expect(result).toMatchObject({ ok: false, reason: 'key_not_pinned' });
      expect(result.ok === false && result.message).toMatch(/no log key pinned/);
    }
    expect(verifyEvidenceBundle(forged, { integrityOnly: true })).toMatchObject({ ok: true, keyFromBundle: true });
    expect(verifyEvidenceBundle(forged, { trustedKey: keyOf(real) })).toMatchObject({ ok: false, reason: 'untrusted_key' });
  });
});

describe("the console's verifier", () => {
  it('does not call a bundle verified under its own key: integrity checked, key not pinned', async () => {
    const forged = await makeBundle(attacker, [ev(0, { index: 0, note: 'fabricated history' })]);
    const report = consoleVerifyBundle(forged, '');
    if ('keyError' in report) throw new Error(report.keyError);
    expect(report.verdict).toBe('key_not_pinned');
    expect(report.checks.find((c) => c.id === 'key')).toMatchObject({ outcome: 'skipped' });
    const pinned = consoleVerifyBundle(forged, formatVerifierKey(keyOf(real)));
    expect(pinned).toMatchObject({ verdict: 'failed', failedCheck: 'Signed by the pinned log key' });
    expect(consoleVerifyBundle(await makeBundle(real, [ev(0, { index: 0 })]), formatVerifierKey(keyOf(real)))).toMatchObject({ verdict: 'verified' });
  });

  it('fails a genuine bundle of another entity than the one fetched, at the last check (wrong_stream)', async () => {
    const other = await makeBundle(real, [ev(0, { index: 0 }, 'credential-meter-2')]);
    const report = consoleVerifyBundle(other, formatVerifierKey(keyOf(real)), STREAM);
    if ('keyError' in report) throw new Error(report.keyError);
    expect(report).toMatchObject({ verdict: 'failed', failedCheck: 'Of the entity asked for', result: { ok: false, reason: 'wrong_stream' } });
    expect(report.checks.filter((c) => c.outcome === 'passed').map((c) => c.id)).toEqual(['format', 'key', 'checkpoint', 'inclusion', 'stream-head', 'completeness']);
    expect(report.checks.find((c) => c.id === 'stream')?.detail).toBe('wrong_stream: the bundle is of credential-meter-2, not of credential-meter-1');
    // Asked for that entity, or loaded from a file (nothing asked for): the same bundle verifies.
    expect(consoleVerifyBundle(other, formatVerifierKey(keyOf(real)), 'credential-meter-2')).toMatchObject({ verdict: 'verified' });
    expect(consoleVerifyBundle(other, formatVerifierKey(keyOf(real)))).toMatchObject({ verdict: 'verified' });
  });
});

describe('credence verify --json', () => {
  it("prints the checkpoint's root hash as base64, as the checkpoint note carries it", async () => {
    const events = [ev(0, { index: 0 }), ev(1, { index: 1 })];
    const file = fileOf(await makeBundle(real, events));
    const printed = await verify([file, '--key', formatVerifierKey(keyOf(real)), '--json']);
    expect(printed.code, printed.err).toBe(0);
    const tree = new MemoryTree(events.map(eventLeafHash));
    expect(JSON.parse(printed.out)).toMatchObject({ ok: true, checkpoint: { treeSize: 2, rootHash: Buffer.from(rootHash(tree, 2)).toString('base64') } });
  });
});

describe('credence export --server --key', () => {
  const { answers, url: served } = cannedServer();
  const cli = async (argv: string[]) => {
    const c = capture();
    return { code: await main(argv, { ...c.io, env: { CREDENCE_TOKEN: 'a.b.c' } }), out: c.out.join('\n'), err: c.err.join('\n') };
  };

  it("checks the server's bundle against the pinned key, and writes nothing on another key", async () => {
    answers.set('/v1/transparency/evidence/credential/meter-1', JSON.stringify(await makeBundle(attacker, [ev(0, { index: 0, note: 'fabricated history' })])));
    const dir = dirs.make();
    const refused = await cli(['export', STREAM, '--server', served(), '--key', formatVerifierKey(keyOf(real)), '--out', join(dir, 'a.json')]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/does not verify \(untrusted_key\)/);
    // Without --key: integrity only, and it says so.
    const unpinned = await cli(['export', STREAM, '--server', served(), '--out', join(dir, 'b.json')]);
    expect(unpinned.code, unpinned.err).toBe(0);
    expect(unpinned.err).toMatch(/checked with the key inside the bundle only/);
    answers.set('/v1/transparency/evidence/credential/meter-1', JSON.stringify(await makeBundle(real, [ev(0, { index: 0 })])));
    const pinned = await cli(['export', STREAM, '--server', served(), '--key', formatVerifierKey(keyOf(real)), '--out', join(dir, 'c.json')]);
    expect(pinned.code, pinned.err).toBe(0);
    expect(pinned.err).toBe('');
  });
});
