import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run as exportCommand } from '../bin/commands/export.ts';
import { capture } from './support/cli.ts';
import { exportedFolder } from './support/exported-folder.ts';
import { verifyData } from './support/logged-data.ts';
import { alterLog } from './support/tampered-log.ts';
import { tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review 88: SQLite keeps any value in any column, and the audit used transparency.db's values as the types
 * it wrote. A note kept as a blob ended `verify --data` (and `credence export`) with "error: text.endsWith is not a
 * function", no TAMPERED line and no --json document; a leaf index of 2^62 was a usage error (exit 2). A view in a
 * table's place (over a recursive CTE, a read that never ends) was read as the table. Each is the file altered: a
 * finding (log_mismatch, exit 1).
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const folder = async () => (await exportedFolder(dirs, 9)).dir;
const alter = alterLog;
const audit = verifyData;

describe('verify --data over a transparency.db whose values or schema are not what Credence writes', () => {
  it.each([
    ['a checkpoint note kept as a blob', 'UPDATE checkpoints SET note = CAST(note AS BLOB)', /the note of a row of checkpoints is not text/],
    ['a leaf index of 2^62', 'UPDATE leaves SET leaf_index = 4611686018427387904 WHERE leaf_index = 8', /the leaf_index of a row of leaves is not an integer from 0 to 2\^53 - 1/],
    ['a leaf hash of 31 bytes', 'UPDATE leaves SET leaf_hash = substr(leaf_hash, 1, 31) WHERE leaf_index = 3', /the leaf_hash of a row of leaves is not a blob of 32 bytes/],
    ['a root hash kept as text', 'UPDATE checkpoints SET root_hash = hex(root_hash)', /the root_hash of a row of checkpoints is not a blob of 32 bytes/],
    ['an event id kept as a blob', "UPDATE leaves SET event_id = X'41' WHERE leaf_index = 2", /the event_id of a row of leaves is not text/],
    ['a view in the place of a table', 'ALTER TABLE nodes RENAME TO nodes_kept; CREATE VIEW nodes AS SELECT * FROM nodes_kept', /defines a view \("nodes"\)/],
    ['a trigger', "CREATE TRIGGER t AFTER INSERT ON leaves BEGIN SELECT 1; END", /defines a trigger \("t"\)/],
  ])('%s: TAMPERED log_mismatch (exit 1), and one JSON document with --json', async (_, sql, message) => {
    const dir = await folder();
    alter(dir, sql);
    const result = await audit(dir);
    expect(result.code, result.err).toBe(1);
    expect(result.err).toMatch(/^TAMPERED: log_mismatch: /);
    expect(result.err).toMatch(message);
    expect(result.jsonCode).toBe(1);
    expect(result.document).toMatchObject({ ok: false, kind: 'log_mismatch' });
  });

  it('credence export names the altered row rather than a TypeError', async () => {
    const dir = await folder();
    alter(dir, 'UPDATE checkpoints SET note = CAST(note AS BLOB)');
    const c = capture();
    // Not a refusal export answers itself (export.ts is not the audit): it reaches the CLI's last handler, named.
    await expect(exportCommand(['credential-meter-1', '--out', join(dir, 'again.json'), '--data', dir], c.io)).rejects.toThrow(
      /the transparency log file was altered: the note of a row of checkpoints is not text/,
    );
  });
});
