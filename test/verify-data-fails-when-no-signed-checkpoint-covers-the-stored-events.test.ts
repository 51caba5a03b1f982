import Database from 'better-sqlite3';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir, readEventsDbInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyInDir, openTransparencyLogForAudit } from '../adapters/driven/transparency/index.ts';
import { parseVerifierKey } from '../domain/transparency/note.ts';
import { lockDataFolder } from '../adapters/runtime/data-folder.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { auditStoreAgainstLog, TransparencyProjection } from '../projections/transparency/index.ts';
import { capture } from './support/cli.ts';
import { exportedFolder } from './support/exported-folder.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review 88: with transparency.db's leaves, nodes and checkpoints emptied, `verify --data --key K` said
 * "ok: 0 stored events match …; 9 not logged yet" and exited 0: the pinned key had verified nothing. Only a store that
 * holds no event yet passes without a signed checkpoint. Review 93: leaves that match the store and no checkpoint are
 * what a new service has between logging and signing, told UNVERIFIED (still exit 1), not TAMPERED. Review 95: leaf
 * hashes take no key, so only beside a live service holding the folder: in a stopped folder the checkpoints were
 * removed (a history rewritten with its leaves passed as not signed yet, and the advice was to sign it). Review 97: a
 * service whose signer failed, or one killed before its first signature, leaves the same files, then told TAMPERED:
 * nothing in them proves either, so both are UNVERIFIED (exit 1), sent to a kept checkpoint, never told to sign; only
 * a trace the files keep (subtree hashes without their leaves) or a kept checkpoint proves tampering.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const folder = async (events: number) => {
  if (events > 0) return (await exportedFolder(dirs, events)).dir;
  // A new folder as a first start leaves it: its log and key made, nothing logged or signed yet.
  const dir = dirs.make();
  await openSqliteStoreInDir(dir).close();
  openTransparencyInDir(dir).log.close();
  return dir;
};

/** A folder with `events` stored and logged by a projection that signs on demand only: no checkpoint yet. */
const loggingFolder = async (events: number) => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, events);
  const { log, signer, origin } = openTransparencyInDir(dir);
  const projection = new TransparencyProjection({ store, log, signer, origin, now: () => new Date(), checkpointEveryMs: 0 });
  await projection.catchUp();
  return { dir, store, log, projection };
};
const audit = async (dir: string, json = false, more: readonly string[] = []) => {
  const c = capture();
  const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();
  const code = await verifyCommand(['--data', dir, '--key', key, ...(json ? ['--json'] : []), ...more], c.io);
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('verify --data when no signed checkpoint covers any stored event', () => {
  it('fails (UNVERIFIED not_logged_yet, exit 1, never ok) when the log file was emptied', async () => {
    const dir = await folder(9);
    const log = new Database(join(dir, 'transparency.db'));
    log.exec('DELETE FROM leaves; DELETE FROM nodes; DELETE FROM checkpoints;');
    log.close();
    const result = await audit(dir);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/^UNVERIFIED: not_logged_yet: the store holds 9 events and the log none of them, nor a checkpoint signed by the log key, so nothing was verified\. .*--checkpoint SAVED/);
    expect(result.err).not.toMatch(/export|audit again/);
    const json = await audit(dir, true);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, kind: 'not_logged_yet' });
  });

  it('fails TAMPERED rolled_back when the log was emptied after an audit whose checkpoint was kept', async () => {
    const dir = await folder(9);
    const saved = join(dir, 'saved.txt');
    expect((await audit(dir, false, ['--save-checkpoint', saved])).code).toBe(0);
    const log = new Database(join(dir, 'transparency.db'));
    log.exec('DELETE FROM leaves; DELETE FROM nodes; DELETE FROM checkpoints;');
    log.close();
    const result = await audit(dir, false, ['--checkpoint', saved]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: rolled_back: the log's latest checkpoint signs 0 events, the saved one 9/);
  });

  it('fails leaves no checkpoint covers in a folder no service holds, the checkpoints deleted: UNVERIFIED not_signed_yet (exit 1), never advised to sign; TAMPERED rolled_back against a kept checkpoint', async () => {
    const dir = await folder(9);
    const saved = join(dir, 'saved.txt');
    expect((await audit(dir, false, ['--save-checkpoint', saved])).code).toBe(0);
    const log = new Database(join(dir, 'transparency.db'));
    log.exec('DELETE FROM checkpoints;');
    log.close();
    const result = await audit(dir);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    // A signer that failed, or a kill before the first signature, leaves the same files (review 97): nothing proves
    // tampering, nothing was verified, and the auditor is sent to a kept checkpoint, never told to sign.
    expect(result.err).toMatch(/^UNVERIFIED: not_signed_yet: the log holds 9 leaves matching the stored events and no checkpoint signed by the log key, so nothing was verified\. A log whose signing failed/);
    expect(result.err).toMatch(/checkpoints \(and leaves\) were removed all look like this: hold the folder to a checkpoint kept from an earlier audit \(--checkpoint SAVED\)/);
    expect(result.err).not.toMatch(/export|audit again|A process holds/);
    const json = await audit(dir, true);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, kind: 'not_signed_yet', unsignedLeaves: 9 });
    const held = await audit(dir, false, ['--checkpoint', saved]);
    expect(held.code).toBe(1);
    expect(held.err).toMatch(/^TAMPERED: rolled_back: /);
  });

  it('fails TAMPERED log_mismatch when the leaves and checkpoints were deleted and the subtree hashes they made remain', async () => {
    const dir = await folder(9);
    const log = new Database(join(dir, 'transparency.db'));
    log.exec('DELETE FROM leaves; DELETE FROM checkpoints;');
    log.close();
    const result = await audit(dir);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: log_mismatch: the log holds 0 leaves but keeps a subtree hash at level 1 over leaf 0, which only that leaf makes: leaves were deleted from its end/);
  });

  it('fails TAMPERED log_mismatch when the tail past a kept checkpoint was cut and an event forged there (review 98: it passed as not logged yet)', async () => {
    const { dir, store, log, projection } = await loggingFolder(4);
    await projection.checkpoint();
    await appendEvents(store, 5, 4);
    await projection.catchUp();
    await projection.checkpoint();
    log.close();
    await store.close();
    const pristine = dirs.make();
    cpSync(dir, pristine, { recursive: true });
    const file = new Database(join(dir, 'transparency.db'));
    file.exec('DELETE FROM checkpoints WHERE tree_size > 4; DELETE FROM leaves WHERE leaf_index >= 4;');
    file.close();
    const events = new Database(join(dir, 'events.db'));
    events.prepare(`UPDATE events SET data = json_set(data, '$.label', 'FORGED') WHERE position = (SELECT max(position) FROM events)`).run();
    events.close();
    const result = await audit(dir);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: log_mismatch: the log holds 4 leaves but keeps a subtree hash at level \d over leaf 4, which only that leaf makes/);

    // Cut two leaves past the kept checkpoint, or with no checkpoint left: the same (review 104).
    for (const [cut, kept, leaves] of [
      ['DELETE FROM checkpoints WHERE tree_size > 4; DELETE FROM leaves WHERE leaf_index >= 6;', 'kept', 6],
      ['DELETE FROM checkpoints; DELETE FROM leaves WHERE leaf_index >= 6;', 'none', 6],
    ] as const) {
      const copy = dirs.make();
      cpSync(pristine, copy, { recursive: true });
      const file = new Database(join(copy, 'transparency.db'));
      file.exec(cut);
      file.close();
      const further = await audit(copy);
      expect(further.code, `${kept}: ${further.err}`).toBe(1);
      expect(further.err).toMatch(new RegExp(`^TAMPERED: log_mismatch: the log holds ${leaves} leaves but keeps a subtree hash at level \\d over leaf ${leaves}`));
    }

    // A subtree hash of the leaves left altered too: still log_mismatch, never the node_mismatch whose --repair-nodes
    // would rewrite the nodes from the leaves left and erase the trace (review 103).
    const nodes = new Database(join(dir, 'transparency.db'));
    nodes.exec('UPDATE nodes SET hash = randomblob(32) WHERE level = 1 AND idx = 0;');
    nodes.close();
    const altered = await audit(dir);
    expect(altered.err).toMatch(/^TAMPERED: log_mismatch: the log holds 4 leaves but keeps a subtree hash/);
    expect(altered.err).not.toMatch(/repair-nodes/);
  });

  it('passes an honest log a live service appends to while the audit walks it: no trace of deleted leaves where leaves were added (review 103)', async () => {
    const { dir, store, log, projection } = await loggingFolder(4);
    await projection.checkpoint();
    const audited = openTransparencyLogForAudit(dir);
    const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();
    let appended = false;
    async function* storedWhileTheServiceAppends() {
      for (const row of readEventsDbInDir(dir)) {
        yield row;
        if (!appended) {
          appended = true;
          await appendEvents(store, 2, 4);
          await projection.catchUp();
          await projection.checkpoint();
        }
      }
    }
    const report = await auditStoreAgainstLog({ storedEvents: storedWhileTheServiceAppends(), log: audited, logPublicKey: parseVerifierKey(key)! });
    audited.close();
    log.close();
    await store.close();
    expect(report).toMatchObject({ ok: true });
  });

  it('tells events logged and not signed yet beside the folder\'s holder UNVERIFIED, and passes once a checkpoint is signed', async () => {
    // Signed on demand only: the leaves are in, no checkpoint yet; the folder's lock held as a running service holds it.
    const { dir, store, log, projection } = await loggingFolder(4);
    const held = lockDataFolder(dir);
    expect(log.latestCheckpoint()).toBeUndefined();
    const unsigned = await audit(dir);
    expect(unsigned.code).toBe(1);
    expect(unsigned.err).toMatch(/^UNVERIFIED: not_signed_yet: the log holds 4 leaves .*A process holds the folder: a running service signs .*audit again after its checkpoint period/);
    expect(unsigned.err).not.toMatch(/export/);
    await projection.checkpoint();
    held.release();
    log.close();
    await store.close();
    const signed = await audit(dir);
    expect(signed.code, signed.err).toBe(0);
    expect(signed.out).toMatch(/^ok: 4 stored events match the transparency log; 4 are covered by the signed checkpoint/);
  });

  it('passes a new store that holds no event yet', async () => {
    const dir = await folder(0);
    const result = await audit(dir);
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(/^ok: 0 stored events match the transparency log/);
  });
});
