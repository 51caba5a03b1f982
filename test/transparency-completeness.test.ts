import Database from 'better-sqlite3';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore, openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLog, openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { ExpectedRevision, type RecordedEvent } from '../domain/ports/index.ts';
import {
  EVIDENCE_BUNDLE_FORMAT_V1,
  MemoryTree,
  buildEvidenceBundle,
  eventLeafHash,
  formatCheckpointText,
  formatStreamHeadText,
  inclusionProof,
  parseCheckpointText,
  parseStreamHeadText,
  rootHash,
  streamRootOf,
  verifyEvidenceBundle,
  type CheckpointSigner,
} from '../domain/transparency/index.ts';
import { TransparencyProjection, exportEvidence, signNote } from '../projections/transparency/index.ts';
import { ORIGIN, appendEvents, eventId, fixedSigner, keyOf, tempDirs } from './transparency-fixtures.ts';
import { capture } from './support/cli.ts';

/**
 * Issue 10 item 4: an evidence bundle proves that it holds the WHOLE stream up to a stated point, through a stream
 * head the log signs, and the verifier names the revisions a bundle leaves out instead of passing it.
 */

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const STREAM = 'credential-meter-1';
const signer = fixedSigner(1);
const key = keyOf(signer);

// Three streams interleaved in one log: the stream under audit has 6 events, at leaves 0, 2, 4, 6, 8 and 10.
const logged: RecordedEvent[] = Array.from({ length: 12 }, (_, i) => ({
  id: eventId(i),
  streamId: i % 2 === 0 ? STREAM : `node-meter-${i % 4}`,
  revision: BigInt(i % 2 === 0 ? i / 2 : Math.floor(i / 4)),
  position: BigInt(10 + i),
  type: i === 10 ? 'CredentialRevoked' : 'CredentialProvisioned',
  data: { index: i },
  metadata: { actor: 'operator-1' },
}));
const stream = logged.filter((e) => e.streamId === STREAM);
const tree = new MemoryTree(logged.map(eventLeafHash));
const SIZE = 11;

const checkpointNote = (by: CheckpointSigner = signer, size = SIZE) =>
  signNote(by, formatCheckpointText({ origin: ORIGIN, treeSize: size, rootHash: rootHash(tree, size), time: '2026-02-01T00:00:00.000Z' }));

const headNote = (overrides: { by?: CheckpointSigner; size?: number; streamId?: string; events?: RecordedEvent[] } = {}) => {
  const size = overrides.size ?? SIZE;
  const events = overrides.events ?? stream;
  return signNote(
    overrides.by ?? signer,
    formatStreamHeadText({
      origin: ORIGIN,
      treeSize: size,
      rootHash: rootHash(tree, size),
      streamId: overrides.streamId ?? STREAM,
      events: events.length,
      streamRoot: streamRootOf(events.map(eventLeafHash)),
    }),
  );
};

/** A bundle as `credence export` writes it, parsed back from JSON so that tests can edit it like a file. */
const bundle = async (streamHeadNote?: string) => {
  const entries = stream.map((event) => {
    const leafIndex = logged.indexOf(event);
    return { event, leafIndex, proof: inclusionProof(tree, leafIndex, SIZE) };
  });
  const json = buildEvidenceBundle({
    streamId: STREAM,
    entries,
    checkpointNote: await checkpointNote(),
    streamHeadNote: streamHeadNote ?? (await headNote()),
    logPublicKey: key,
  });
  return JSON.parse(JSON.stringify(json));
};

describe('evidence bundle completeness', () => {
  it('passes a complete bundle: every event included and exactly the events the signed stream head counts', async () => {
    expect(verifyEvidenceBundle(await bundle(), { trustedKey: key })).toMatchObject({ ok: true, events: 6, checkpoint: { treeSize: SIZE } });
  });

  it('fails a bundle with its last events removed (a dropped revocation) and names the missing revisions', async () => {
    const json = await bundle();
    json.entries.splice(-2);
    const result = verifyEvidenceBundle(json, { trustedKey: key });
    expect(result).toMatchObject({ ok: false, reason: 'incomplete_history', missing: [{ first: 4n, last: 5n }] });
    expect(result.ok === false && result.message).toMatch(/had 6 events \(revisions 0-5\) at tree size 11; the bundle lacks revisions 4-5/);
    const lastOnly = await bundle();
    lastOnly.entries.pop();
    expect(verifyEvidenceBundle(lastOnly, { trustedKey: key })).toMatchObject({ ok: false, reason: 'incomplete_history', missing: [{ first: 5n, last: 5n }] });
  });

  it('fails a bundle with middle events removed and names each gap', async () => {
    const json = await bundle();
    json.entries.splice(3, 1);
    json.entries.splice(1, 1);
    const result = verifyEvidenceBundle(json, { trustedKey: key });
    expect(result).toMatchObject({ ok: false, reason: 'incomplete_history', missing: [{ first: 1n, last: 1n }, { first: 3n, last: 3n }] });
    expect(result.ok === false && result.message).toMatch(/lacks revisions 1, 3$/);
  });

  it('fails a bundle whose entries were reordered', async () => {
    const json = await bundle();
    [json.entries[2], json.entries[3]] = [json.entries[3], json.entries[2]];
    expect(verifyEvidenceBundle(json, { trustedKey: key })).toMatchObject({ ok: false, reason: 'out_of_order', position: stream[2]!.position });
  });

  it('fails a stream head whose text was edited to count fewer events: its signature no longer holds', async () => {
    const json = await bundle();
    json.entries.splice(-2);
    json.streamHead = json.streamHead.replace(/\nevents 6 /, '\nevents 4 ');
    expect(verifyEvidenceBundle(json, { trustedKey: key })).toMatchObject({ ok: false, reason: 'bad_stream_head_signature' });
    const byAnother = await bundle(await headNote({ by: fixedSigner(7), events: stream.slice(0, 4) }));
    byAnother.entries.splice(-2);
    expect(verifyEvidenceBundle(byAnother, { trustedKey: key })).toMatchObject({ ok: false, reason: 'bad_stream_head_signature' });
  });

  it('fails a genuine stream head of an older tree, of another stream, or of other events', async () => {
    // The log once had only 4 events of the stream (tree size 7): that head cannot vouch for the tree of size 11.
    const older = await bundle(await headNote({ size: 7, events: stream.slice(0, 4) }));
    older.entries.splice(-2);
    expect(verifyEvidenceBundle(older, { trustedKey: key })).toMatchObject({ ok: false, reason: 'stream_head_mismatch' });
    const other = await bundle(await headNote({ streamId: 'credential-meter-2' }));
    expect(verifyEvidenceBundle(other, { trustedKey: key })).toMatchObject({ ok: false, reason: 'stream_head_mismatch' });
    const swapped = await bundle(await headNote({ events: [...stream.slice(0, 5), logged[1]!] }));
    expect(verifyEvidenceBundle(swapped, { trustedKey: key })).toMatchObject({ ok: false, reason: 'stream_head_mismatch' });
  });

  it('says plainly that a v1 bundle proves no completeness, after checking its inclusions', async () => {
    const { streamHead: _, ...v2 } = await bundle();
    const v1 = { ...v2, format: EVIDENCE_BUNDLE_FORMAT_V1, notYetCheckpointed: 0 };
    v1.entries.splice(-2);
    const result = verifyEvidenceBundle(v1, { trustedKey: key });
    expect(result).toMatchObject({ ok: false, reason: 'completeness_unproven' });
    expect(result.ok === false && result.message).toMatch(/nothing proves that the stream had no other events/);
    v1.entries[0].event.data.index = 99;
    expect(verifyEvidenceBundle(v1, { trustedKey: key })).toMatchObject({ ok: false, reason: 'not_included' });
  });

  it('keeps stream heads and checkpoints apart: neither parses as the other, and a head has one spelling', async () => {
    const head = formatStreamHeadText({ origin: ORIGIN, treeSize: SIZE, rootHash: rootHash(tree, SIZE), streamId: STREAM, events: 6, streamRoot: streamRootOf(stream.map(eventLeafHash)) });
    expect(parseStreamHeadText(head)).toMatchObject({ ok: true, head: { streamId: STREAM, events: 6, treeSize: SIZE } });
    expect(parseCheckpointText(head)).toMatchObject({ ok: false });
    expect(parseStreamHeadText(formatCheckpointText({ origin: ORIGIN, treeSize: SIZE, rootHash: rootHash(tree, SIZE), time: '2026-02-01T00:00:00Z' }))).toMatchObject({ ok: false });
    expect(parseStreamHeadText(head.replace('events 6', 'events 06'))).toMatchObject({ ok: false });
    expect(parseStreamHeadText(head.replace('events 6', 'events 12'))).toMatchObject({ ok: false });
  });
});

describe('credence export proves the whole stream', () => {
  it('covers a revocation appended after the last periodic checkpoint, by checkpointing it first', async () => {
    const store = openSqliteStore({ memory: true });
    const log = openTransparencyLog({ memory: true });
    const projection = new TransparencyProjection({ store, log, signer, origin: ORIGIN, now: () => new Date('2026-03-01T00:00:00Z'), checkpointEveryLeaves: 3, checkpointEveryMs: 0 });
    try {
      await appendEvents(store, 9);
      await projection.catchUp();
      await projection.checkpoint();
      expect(log.latestCheckpoint()?.treeSize).toBe(9);
      await store.appendToStream(STREAM, [{ id: eventId(99), type: 'CredentialRevoked', data: { reason: 'compromised' }, metadata: { actor: 'operator-1' } }], { expectedRevision: ExpectedRevision.any });
      const { bundle: json, treeSize, storedAfter } = await exportEvidence({ streamId: STREAM, store, projection, log, signer });
      expect({ treeSize, storedAfter }).toEqual({ treeSize: 10, storedAfter: 0 });
      expect(json.entries.at(-1)?.event).toMatchObject({ type: 'CredentialRevoked', revision: '3' });
      expect(parseStreamHeadText(json.streamHead.slice(0, json.streamHead.indexOf('\n\n') + 1))).toMatchObject({ ok: true, head: { events: 4, treeSize: 10 } });
      expect(verifyEvidenceBundle(JSON.parse(JSON.stringify(json)), { trustedKey: key })).toMatchObject({ ok: true, events: 4 });
    } finally {
      await store.close();
      log.close();
    }
  });

  const dataDir = async (): Promise<string> => {
    const dir = dirs.make();
    const store = openSqliteStoreInDir(dir);
    await appendEvents(store, 9);
    await store.close();
    return dir;
  };

  let exported = 0;
  /** Each export to a file of its own: export keeps an existing file unless --force. */
  const exportTo = async (dir: string): Promise<{ code: number; file: string; err: string }> => {
    const file = join(dir, `bundle-${(exported += 1)}.json`);
    const c = capture();
    const code = await exportCommand([STREAM, '--out', file, '--data', dir], c.io);
    return { code, file, err: c.err.join('\n') };
  };

  it('refuses an --out it cannot write into before reading or signing anything, naming --out (found in review)', async () => {
    const dir = await dataDir();
    for (const [out, message] of [
      [join(dir, 'no-such-folder', 'bundle.json'), '--out: there is no folder'],
      [dir, 'is a folder; name a file'],
    ] as const) {
      const c = capture();
      expect(await exportCommand([STREAM, '--out', out, '--data', dir], c.io)).toBe(2);
      expect(c.err.join('\n')).toContain(message);
    }
    // Nothing was logged or signed for the refused exports.
    expect(existsSync(join(dir, 'transparency.db'))).toBe(false);
  });

  it('keeps an existing --out file unless --force (found in review: an earlier bundle was overwritten without a word)', async () => {
    const dir = await dataDir();
    const out = join(dir, 'kept.json');
    writeFileSync(out, 'precious\n');
    const refused = capture();
    expect(await exportCommand([STREAM, '--out', out, '--data', dir], refused.io)).toBe(2);
    expect(refused.err.join('\n')).toContain(`--out: ${out} exists; give --force to replace it`);
    expect(readFileSync(out, 'utf8')).toBe('precious\n');
    const forced = capture();
    expect(await exportCommand([STREAM, '--out', out, '--data', dir, '--force'], forced.io)).toBe(0);
    expect(readFileSync(out, 'utf8')).not.toBe('precious\n');
    expect(JSON.parse(readFileSync(out, 'utf8'))).toBeTypeOf('object');
  });

  it('makes credence verify exit 1 on a bundle with its last event removed, naming the revision not covered', async () => {
    const dir = await dataDir();
    const { file } = await exportTo(dir);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    expect(json.format).toBe('credence-evidence-bundle/v2');
    json.entries.pop();
    writeFileSync(file, JSON.stringify(json));
    const c = capture();
    expect(await verifyCommand([file, '--key', join(dir, 'transparency.pub')], c.io)).toBe(1);
    expect(c.err.join('\n')).toMatch(/FAILED \(incomplete_history\).*had 3 events \(revisions 0-2\)/);
    expect(c.err.join('\n')).toMatch(/the bundle lacks revision 2$/m);
    expect(c.err.join('\n')).not.toContain('not covered');
  });

  it('refuses to export a stream whose last event was deleted from the store: the log, not the store, counts', async () => {
    const dir = await dataDir();
    expect((await exportTo(dir)).code).toBe(0);
    const db = new Database(join(dir, 'events.db'));
    db.prepare(`DELETE FROM events WHERE stream_id = ? AND revision = 2`).run(STREAM);
    db.close();
    const refused = await exportTo(dir);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/revision 2 of credential-meter-1 at position \d+, and the store does not hold that event/);
  });

  it('catches an edited stream index: the export refuses and credence verify --data reports it', async () => {
    const dir = await dataDir();
    expect((await exportTo(dir)).code).toBe(0);
    const db = new Database(join(dir, 'transparency.db'));
    db.prepare(`UPDATE leaves SET stream_id = 'node-meter-9' WHERE leaf_index = 0`).run();
    db.close();
    const refused = await exportTo(dir);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/stream index puts revision 1 of credential-meter-1 at leaf 3, where revision 0 belongs/);
    const c = capture();
    expect(await verifyCommand(['--data', dir, '--key', join(dir, 'transparency.pub')], c.io)).toBe(1);
    expect(c.err.join('\n')).toMatch(/TAMPERED: log_mismatch at position \d+: the log's stream index gives leaf 0 to revision 0 of node-meter-9/);
  });

  it('indexes a log file written before the stream index (schema 1) and exports a complete bundle from it', async () => {
    const dir = await dataDir();
    expect((await exportTo(dir)).code).toBe(0);
    const db = new Database(join(dir, 'transparency.db'));
    db.exec('DROP INDEX leaves_by_stream; ALTER TABLE leaves DROP COLUMN stream_id; ALTER TABLE leaves DROP COLUMN revision; PRAGMA user_version = 1;');
    db.close();
    const legacy = openTransparencyLogInDir(dir);
    expect(legacy.firstUnindexedLeaf()?.leafIndex).toBe(0);
    legacy.close();
    const { code, file } = await exportTo(dir);
    expect(code).toBe(0);
    const log = openTransparencyLogInDir(dir);
    expect(log.firstUnindexedLeaf()).toBeUndefined();
    expect(log.streamLeaves(STREAM, 9).map((l) => l.stream?.revision)).toEqual([0n, 1n, 2n]);
    log.close();
    const c = capture();
    expect(await verifyCommand([file, '--key', join(dir, 'transparency.pub')], c.io)).toBe(0);
    expect(c.out.join('\n')).toMatch(/ok: 3 events of credential-meter-1 are in the log and are the whole stream as of tree size 9/);
    // Review 237: a forged event refused by replay verifies too (it is in the log): the line says what it does not prove.
    expect(c.out.join('\n')).toContain('not that its machine accepts each event: credence history credential-meter-1 replays them');
  });
});
