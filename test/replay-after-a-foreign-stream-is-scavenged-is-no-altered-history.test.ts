import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256RecordDigest } from '../adapters/replay-workers/record-digest.ts';
import { isOwnStream } from '../domain/own-record.ts';
import type { LoggedEvent } from './esdb-standin/memory-log.ts';
import { settled } from './http-sse.fixtures.ts';
import { runCli } from './support/cli.ts';
import { foreignRecord, registerNode, useSharedCluster, type SharedCluster } from './support/shared-cluster.ts';
import { readCheckpointFileJson } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';

/*
 * After review 371 #1: on an EventStoreDB cluster shared with another application, the replay checkpoint digested
 * every record of $all, the other application's too, and ended on whatever record was last. Once that application
 * deleted a stream and the server scavenged it, every plain `credence replay` went in full and said "history altered"
 * (exit 1), with a hint about restoring events.db, a file no EventStoreDB store has. Now only Credence's records are
 * digested on a store that is not gapless, and the checkpoint is anchored on Credence's last record.
 *
 * After review 376 #1: a checkpoint of an earlier version (its digest over every record) was verified in full without
 * being compared and saved over, though its digest was the only evidence of an event altered behind it. Its digest is
 * now chained and compared once: the same, it is replaced; otherwise it is kept aside, named in a note.
 */
describe('credence replay on a cluster whose other application scavenges its records', () => {
  const cluster = useSharedCluster();
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  const replay = (dir: string, store: string, ...more: string[]) => runCli(['replay', '--data', dir, '--json', ...more], { CREDENCE_STORE: store });
  const verdict = (out: string) => JSON.parse(out) as { ok: boolean; verification: { mode: string; altered?: { reason: string }; notes: string[] } };

  it('goes on from its checkpoint after another application scavenges a record in the middle and at the tip', async () => {
    const { svc, standIn } = await cluster.start();
    const dir = mkdtempSync(join(tmpdir(), 'credence-replay-scavenged-'));
    dirs.push(dir);
    const middle = `orders-${randomUUID()}`;
    const tip = `orders-${randomUUID()}`;
    await registerNode(svc, 'scav-replay-1');
    foreignRecord(standIn, middle);
    await registerNode(svc, 'scav-replay-2');
    await settled(svc);
    // The newest record of $all is the other application's: the checkpoint's tip, before review 371.
    foreignRecord(standIn, tip);

    const first = await replay(dir, standIn.connectionString);
    expect(first.code, first.out + first.err).toBe(0);
    expect(verdict(first.out).verification.mode).toBe('full');
    const saved = readCheckpointFileJson(join(dir, 'replay-checkpoint.json')) as { position: string };

    // When the other application deletes both its streams and the server scavenges them
    standIn.log.scavenge(middle);
    standIn.log.scavenge(tip);

    // Then a plain run goes on from the checkpoint, and a full one finds the history it verified
    const plain = await replay(dir, standIn.connectionString);
    expect(plain.code, plain.out + plain.err).toBe(0);
    expect(verdict(plain.out).verification).toMatchObject({ mode: 'incremental' });
    expect(verdict(plain.out).verification.altered).toBeUndefined();
    expect(saved.position).toBeDefined();
    expect(verdict(plain.out).verification.notes).toEqual([]);

    foreignRecord(standIn, `orders-${randomUUID()}`);
    await registerNode(svc, 'scav-replay-3');
    const last = `orders-${randomUUID()}`;
    foreignRecord(standIn, last);
    await settled(svc);
    expect((await replay(dir, standIn.connectionString)).code).toBe(0);
    standIn.log.scavenge(last);
    const full = await replay(dir, standIn.connectionString, '--full');
    expect(full.code, full.out + full.err).toBe(0);
    expect(verdict(full.out)).toMatchObject({ ok: true, verification: { mode: 'full' } });
    expect(verdict(full.out).verification.altered).toBeUndefined();
    // Workers that this thread feeds digest and anchor alike
    const workers = await replay(dir, standIn.connectionString, '--full', '--workers', '2');
    expect(workers.code, workers.out + workers.err).toBe(0);
    expect(verdict(workers.out).verification.altered).toBeUndefined();
  }, 90_000);

  it('verifies in full once, without calling it altered, from a checkpoint whose digest covered the other records', async () => {
    const { svc, standIn } = await cluster.start();
    const dir = mkdtempSync(join(tmpdir(), 'credence-replay-scavenged-'));
    dirs.push(dir);
    await registerNode(svc, 'scav-replay-old-1');
    await settled(svc);
    const tip = `orders-${randomUUID()}`;
    foreignRecord(standIn, tip);
    expect((await replay(dir, standIn.connectionString)).code).toBe(0);
    // As an earlier version wrote it: no digestVersion beside the checkpoint (its digest then covered every record)
    const path = join(dir, 'replay-checkpoint.json');
    const { digestVersion, ...older } = readCheckpointFileJson(path) as Record<string, unknown>;
    expect(digestVersion).toBe(2);
    writeFileSync(path, JSON.stringify(older));
    standIn.log.scavenge(tip);

    const once = await replay(dir, standIn.connectionString);
    expect(once.code, once.out).toBe(0);
    expect(verdict(once.out).verification.mode).toBe('full');
    expect(verdict(once.out).verification.notes.join('\n')).toMatch(/an earlier version wrote it/);
    const then = await replay(dir, standIn.connectionString);
    expect(then.code).toBe(0);
    expect(verdict(then.out).verification.mode).toBe('incremental');
  }, 90_000);

  /**
   * The file an earlier version wrote on this cluster: its digest chained every record of $all up to its position (the
   * other application's too), and no digestVersion beside it.
   */
  const asAnEarlierVersionWroteIt = async (svc: SharedCluster['svc'], path: string): Promise<Record<string, unknown>> => {
    const { digestVersion, ...fields } = readCheckpointFileJson(path) as Record<string, unknown>;
    expect(digestVersion).toBe(2);
    const upTo = BigInt(fields['position'] as string);
    const everyRecord = sha256RecordDigest();
    for await (const r of svc.service.context.credence.store.readAll({})) if (r.position <= upTo) everyRecord.update(r);
    const older = { ...fields, digest: everyRecord.value() };
    writeFileSync(path, JSON.stringify(older));
    return older;
  };

  /** Another data in place of the record's, at the same position of $all: an event altered in the cluster's files. */
  const alterInPlace = (standIn: SharedCluster['standIn'], streamId: string, type: string): void => {
    const stream = standIn.log.stream(streamId) as LoggedEvent[];
    const index = stream.findIndex((e) => e.type === type);
    const event = stream[index]!;
    const data = JSON.parse(Buffer.from(event.data).toString('utf8')) as { profile: { model: string } };
    data.profile.model = 'SM-2';
    const altered: LoggedEvent = { ...event, data: Buffer.from(JSON.stringify(data)) };
    stream[index] = altered;
    const all = standIn.log.all;
    all[all.findIndex((e) => e.position === event.position)] = altered;
  };

  it('keeps an earlier version\'s checkpoint aside, named, when the history behind it is not the one it verified (review 376)', async () => {
    const { svc, standIn } = await cluster.start();
    const dir = mkdtempSync(join(tmpdir(), 'credence-replay-scavenged-'));
    dirs.push(dir);
    await registerNode(svc, 'scav-replay-v1-1');
    foreignRecord(standIn, `orders-${randomUUID()}`);
    await registerNode(svc, 'scav-replay-v1-2');
    await settled(svc);
    expect((await replay(dir, standIn.connectionString)).code).toBe(0);
    const path = join(dir, 'replay-checkpoint.json');
    const older = await asAnEarlierVersionWroteIt(svc, path);

    // When a Credence event behind it is altered in place, and no record of the other application's was scavenged
    alterInPlace(standIn, 'node-scav-replay-v1-1', 'NodeRegistered');

    // Then the run says so and keeps the file, the only evidence of the history it verified, aside
    const run = await replay(dir, standIn.connectionString);
    const notes = verdict(run.out).verification.notes.join('\n');
    expect(notes, run.out + run.err).toContain(`${path}.v1`);
    expect(notes).toMatch(/scavenge/);
    expect(readCheckpointFileJson(`${path}.v1`)).toEqual(older);
    expect((readCheckpointFileJson(path) as { digestVersion?: number }).digestVersion).toBe(2);
    const full = await replay(dir, standIn.connectionString, '--full');
    expect(readCheckpointFileJson(`${path}.v1`)).toEqual(older);
    expect(full.code, full.out).toBe(0);
    // Review 380 item 4: only the run that kept it said so; every later run names it while it is there, and what to do.
    for (const later of [full, await replay(dir, standIn.connectionString)]) {
      const said = verdict(later.out).verification.notes.filter((note) => note.includes(`${path}.v1`));
      expect(said, later.out + later.err).toHaveLength(1);
      expect(said[0]).toMatch(/scavenge/);
      expect(said[0]).toMatch(/remove it/);
    }
    rmSync(`${path}.v1`);
    const removed = await replay(dir, standIn.connectionString);
    expect(verdict(removed.out).verification.notes.join('\n')).not.toContain('.v1');
  }, 90_000);

  it('saves a checkpoint of this version over an earlier version\'s when the history behind it is the one it verified (review 376)', async () => {
    const { svc, standIn } = await cluster.start();
    const dir = mkdtempSync(join(tmpdir(), 'credence-replay-scavenged-'));
    dirs.push(dir);
    await registerNode(svc, 'scav-replay-v1-same-1');
    foreignRecord(standIn, `orders-${randomUUID()}`);
    await registerNode(svc, 'scav-replay-v1-same-2');
    await settled(svc);
    expect((await replay(dir, standIn.connectionString)).code).toBe(0);
    const path = join(dir, 'replay-checkpoint.json');
    await asAnEarlierVersionWroteIt(svc, path);

    const once = await replay(dir, standIn.connectionString);
    expect(once.code, once.out).toBe(0);
    expect(verdict(once.out).verification.mode).toBe('full');
    expect(verdict(once.out).verification.notes.join('\n')).not.toContain('.v1');
    expect(existsSync(`${path}.v1`)).toBe(false);
    expect((readCheckpointFileJson(path) as { digestVersion?: number }).digestVersion).toBe(2);
    const then = await replay(dir, standIn.connectionString);
    expect(then.code).toBe(0);
    expect(verdict(then.out).verification.mode).toBe('incremental');
  }, 90_000);

  it('still reports a Credence record gone as an alteration, without a word of events.db', async () => {
    const { svc, standIn } = await cluster.start();
    const dir = mkdtempSync(join(tmpdir(), 'credence-replay-scavenged-'));
    dirs.push(dir);
    await registerNode(svc, 'scav-replay-own-1');
    foreignRecord(standIn, `orders-${randomUUID()}`);
    await registerNode(svc, 'scav-replay-own-2');
    await settled(svc);
    foreignRecord(standIn, `orders-${randomUUID()}`);
    expect((await replay(dir, standIn.connectionString)).code).toBe(0);

    // Only tampering (or an operator's mistake) removes a Credence record: here Credence's last one.
    let last: string | undefined;
    for await (const r of svc.service.context.credence.store.readAll({})) if (isOwnStream(r.streamId)) last = r.streamId;
    standIn.log.scavenge(last!);
    const run = await replay(dir, standIn.connectionString);
    expect(run.code, run.out).toBe(1);
    const reason = verdict(run.out).verification.altered?.reason ?? '';
    expect(reason).toContain('replay-checkpoint.json');
    expect(reason).not.toContain('events.db');
    // Review 376 #4: other applications' records may go on past it; Credence's end before it.
    expect(reason).toContain("Credence's records end before position");
    expect(reason).not.toMatch(/the store ends/);
  }, 90_000);
});
