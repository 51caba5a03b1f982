import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventLeafHash, rootFromInclusionProof, toBase64 } from '../domain/transparency/index.ts';
import type { Reply } from './http-conformance.fixtures.ts';
import { loggedNodeOn } from './support/logged-data.ts';
import { startTestService, type TestService } from './support/service.ts';
import { alterFile } from './support/tampered-log.ts';

/*
 * Found in review 164: the inclusion route took the log's latest checkpoint row as the witness of which file was
 * altered without checking its signature. An event edited in events.db, the checkpoint's root (row and note text)
 * rewritten to the root the edited event gives through the log's audit path, signature left as it was: the route
 * answered "the log file was altered, not events.db; restore transparency.db", the wrong file. A checkpoint vouches
 * only once it verifies under the log key; with no witness the refusal names neither file.
 */
describe('the inclusion proof route over an edited event and a checkpoint rewritten without the log key', () => {
  let svc: TestService;
  let position: bigint;
  let inclusion: () => Promise<Reply<any>>;

  beforeEach(async () => {
    svc = await startTestService();
    ({ position, inclusion } = await loggedNodeOn(svc));
  });
  afterEach(async () => {
    await svc?.close();
  });

  it('does not send the operator to restore transparency.db, and names neither file', async () => {
    const { credence } = svc.service.context;
    const log = credence.transparencyLog!.log;
    const leaf = log.leafByPosition(position)!;
    const latest = log.latestCheckpoint()!;
    expect(latest.treeSize).toBeGreaterThan(leaf.leafIndex);

    alterFile(svc.dir, 'events.db', `UPDATE events SET data = json_set(data, '$.nodeId', 'forged') WHERE position = ${position}`);
    const edited = (await credence.store.readStream('node-meter-1'))[0]!;
    const proof = log.inclusionProof(leaf.leafIndex, latest.treeSize);
    const forgedRoot = rootFromInclusionProof(leaf.leafIndex, latest.treeSize, eventLeafHash(edited), proof)!;
    const transparency = new Database(join(svc.dir, 'transparency.db'));
    transparency
      .prepare('UPDATE checkpoints SET root_hash = ?, note = replace(note, ?, ?) WHERE tree_size = ?')
      .run(Buffer.from(forgedRoot), `\n${toBase64(latest.rootHash)}\n`, `\n${toBase64(forgedRoot)}\n`, latest.treeSize);
    transparency.close();
    // The row agrees with its note's text: only the signature tells the checkpoint is not the log key's.
    expect(toBase64(log.latestCheckpoint()!.rootHash)).toBe(toBase64(forgedRoot));

    const reply = await inclusion();
    expect(reply.status).toBe(422);
    expect(reply.body.detail).not.toMatch(/restore transparency\.db|not events\.db/);
    expect(reply.body.detail).toMatch(new RegExp(`the store's event and the log's leaf disagree at position ${position}: run credence verify --data to tell which file was altered`));
  });
});
