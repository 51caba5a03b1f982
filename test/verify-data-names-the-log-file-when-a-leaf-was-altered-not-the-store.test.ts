import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run as exportCommand } from '../bin/commands/export.ts';
import { capture } from './support/cli.ts';
import { exportedFolder } from './support/exported-folder.ts';
import { checkpointedFolder, verifyData } from './support/logged-data.ts';
import { alterFile, alterLog } from './support/tampered-log.ts';
import { auditDataDir, fixedSigner, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review 159: transparency.db altered under untouched events was blamed on events.db, or passed. A leaf's
 * event id changed passed `verify --data` (exit 0) while `credence export` refused and sent the operator back to it;
 * leaf 3's hash copied over leaf 2 read "event ... was edited"; a middle leaf deleted read "inserted at position 5".
 * Each is the log file altered: log_mismatch naming the leaf (exit 1), and export's refusal then agrees.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const alter = alterLog;
const audit = verifyData;

describe('verify --data over a transparency.db altered under untouched events', () => {
  it("a leaf's event id changed: log_mismatch naming the leaf, where export refused and the audit passed", async () => {
    const { dir, events } = await exportedFolder(dirs, 9);
    alter(dir, "UPDATE leaves SET event_id = '00000000-0000-4000-8000-999999999999' WHERE leaf_index = 4");
    const result = await audit(dir);
    expect(result.code, result.out).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: log_mismatch at position 5: transparency\.db: leaf 4 \(position 5\) names event 00000000-0000-4000-8000-999999999999, .*the log file was altered/);
    expect(result.err).toContain(events[4]!.id);
    expect(result.document).toMatchObject({ ok: false, kind: 'log_mismatch', leafIndex: 4 });
    // Export refuses as before, naming the log file as the audit does rather than the store: the signed tree still
    // covers the stored event (a leaf hash agreeing with it is no witness under a checkpoint, review 164).
    const c = capture();
    expect(await exportCommand(['node-meter-1', '--out', join(dir, 'again.json'), '--data', dir], c.io)).not.toBe(0);
    expect(c.err.join('\n')).toMatch(/transparency\.db: leaf 4 \(position 5\) disagrees with the store's event there, which the signed checkpoint covers at that leaf: the log file was altered/);
  });

  it("leaf 3's hash copied over leaf 2: log_mismatch naming leaf 2, since the stored event still hashes to the signed checkpoint", async () => {
    const { dir } = await exportedFolder(dirs, 9);
    alter(dir, 'UPDATE leaves SET leaf_hash = (SELECT leaf_hash FROM leaves WHERE leaf_index = 3) WHERE leaf_index = 2');
    const result = await audit(dir);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: log_mismatch at position 3: transparency\.db: leaf 2 \(position 3\) holds another hash than the store's event there .*which the signed checkpoint covers at that leaf: the log file was altered/);
    expect(result.err).not.toMatch(/edited/);
    expect(result.document).toMatchObject({ ok: false, kind: 'log_mismatch', leafIndex: 2 });
  });

  it('a middle leaf deleted: log_mismatch naming the missing leaf index, not an event inserted into the store', async () => {
    const { dir } = await exportedFolder(dirs, 9);
    alter(dir, 'DELETE FROM leaves WHERE leaf_index = 4');
    const result = await audit(dir);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: log_mismatch at position 5: transparency\.db holds no leaf 4/);
    expect(result.err).not.toMatch(/inserted/);
    expect(result.document).toMatchObject({ ok: false, kind: 'log_mismatch', leafIndex: 4 });
  });

  it('an event edited in events.db is still the store edited', async () => {
    const { dir } = await exportedFolder(dirs, 9);
    alterFile(dir, 'events.db', `UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = 3`);
    const result = await audit(dir);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: edited at position 3: /);
  });
});

describe('the audit over leaves no checkpoint signs yet', () => {
  const signer = fixedSigner();
  /** 10 events under a checkpoint, and leaves 10 and 11 logged after it: the stored subtree (1, 5) is over both. */
  const folder = (): Promise<string> => checkpointedFolder(dirs, signer);

  it('blames the log file where the stored subtree above an unsigned leaf still holds its event', async () => {
    const dir = await folder();
    alter(dir, 'UPDATE leaves SET leaf_hash = (SELECT leaf_hash FROM leaves WHERE leaf_index = 10) WHERE leaf_index = 11');
    const report = await auditDataDir(dir, signer);
    expect(report).toMatchObject({ ok: false, kind: 'log_mismatch', leafIndex: 11, position: 12n });
    expect((report as { message: string }).message).toMatch(/which the stored subtree above the leaf holds: the log file was altered/);
  });

  it('still blames the store for an unsigned event edited in events.db', async () => {
    const dir = await folder();
    alterFile(dir, 'events.db', `UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = 12`);
    expect(await auditDataDir(dir, signer)).toMatchObject({ ok: false, kind: 'edited', position: 12n, leafIndex: 11 });
  });
});
