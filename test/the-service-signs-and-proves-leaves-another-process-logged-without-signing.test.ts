import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { exportEvidence, TransparencyProjection } from '../projections/transparency/index.ts';
import { provenInclusion } from '../projections/transparency/evidence.ts';
import { body, settled } from './http-conformance.fixtures.ts';
import { ORIGIN, appendEvents, fixedSigner, readAllEvents } from './transparency-fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 418 F1: the service counted transparency.db's leaves in memory, refreshed only by an append of its own or a
 * larger checkpoint read. Leaves another process logged without signing a checkpoint over them (`credence export`
 * killed, or refused, between its catch-up and its signature) were never seen: the service's catch-up appended nothing
 * (append([]) returned early), its checkpoint signed the old size, an inclusion proof of the new entry was a 500
 * (`inclusionProof(3, 2)`), an evidence bundle left the event out while stating the whole stream, and the timer never
 * signed them on a quiet service. The size is read from the file before it is answered.
 */
let svc: TestService | undefined;
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await svc?.close();
  svc = undefined;
});

const fileSize = (dir: string): number => {
  const db = new Database(join(dir, 'transparency.db'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM leaves').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe("leaves another process logged and did not sign, under a running service", () => {
  it('are counted, signed, proved (200, not 500) and in the evidence bundle', async () => {
    svc = await startTestService();
    const post = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(body.registerNode('meter-a')),
    });
    expect(post.status).toBe(201);
    await settled(svc);
    const { credence } = svc.service.context;
    // The live runtime stops following (its last checkpoint signed): the service stays up, quiet, its routes served.
    await svc.service.context.live.stop();
    const { log, signer } = credence.transparencyLog!;
    const signedBefore = log.latestCheckpoint()!.treeSize;
    expect(signedBefore).toBe(log.size());

    // Another process (an export killed between its catch-up and its signature): two events stored and logged on its
    // own connections, no checkpoint signed over them.
    const store = openSqliteStoreInDir(svc.dir, { pollIntervalMs: 5 });
    closers.push(() => store.close());
    const otherLog = openTransparencyLogInDir(svc.dir);
    closers.push(() => otherLog.close());
    await appendEvents(store, 1, 0);
    await appendEvents(store, 1, 2);
    const other = new TransparencyProjection({ store, log: otherLog, signer: fixedSigner(), origin: ORIGIN, now: () => new Date(), checkpointEveryMs: 0 });
    expect(await other.catchUp()).toBe(2);
    const all = fileSize(svc.dir);
    expect(all).toBe(signedBefore + 2);
    expect(log.latestCheckpoint()!.treeSize).toBe(signedBefore);
    const [added] = (await readAllEvents(store)).filter((e) => e.streamId === 'credential-meter-1');

    // The service's own connection sees them.
    await credence.transparency!.catchUp();
    expect(log.size()).toBe(all);

    // An inclusion proof of the new entry: a checkpoint covering it is signed on demand.
    const proved = await fetch(`${svc.url}/v1/transparency/proofs/inclusion?position=${added!.position}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    const text = await proved.text();
    expect(proved.status, text).toBe(200);
    const answer = JSON.parse(text) as { proof: { leafIndex: number; treeSize: number } };
    expect(answer.proof).toMatchObject({ leafIndex: signedBefore, treeSize: all });
    expect(log.latestCheckpoint()!.treeSize).toBe(all);

    // The evidence bundle of that stream holds the event, against a checkpoint of every leaf.
    const evidence = await exportEvidence({ streamId: 'credential-meter-1', store: credence.store, projection: credence.transparency!, log, signer });
    expect(evidence.treeSize).toBe(all);
    expect(evidence.storedAfter).toBe(0);
    expect(evidence.bundle.entries).toHaveLength(1);
  }, 60_000);

  it('are signed by the service asked for a checkpoint, without a catch-up first', async () => {
    svc = await startTestService();
    await settled(svc);
    const { credence } = svc.service.context;
    await svc.service.context.live.stop();
    const { log } = credence.transparencyLog!;
    const store = openSqliteStoreInDir(svc.dir, { pollIntervalMs: 5 });
    closers.push(() => store.close());
    const otherLog = openTransparencyLogInDir(svc.dir);
    closers.push(() => otherLog.close());
    await appendEvents(store, 2, 0);
    const other = new TransparencyProjection({ store, log: otherLog, signer: fixedSigner(), origin: ORIGIN, now: () => new Date(), checkpointEveryMs: 0 });
    await other.catchUp();
    const all = fileSize(svc.dir);
    expect(log.size()).toBe(all);
    expect((await credence.transparency!.checkpoint()).treeSize).toBe(all);
  }, 60_000);

  it('has an inclusion proof against a checkpoint that does not cover it refused as not found, not a bare Error', () => {
    const log = { inclusionProof: () => { throw new Error('treeSize: 2 exceeds the log size 2'); } };
    const refuse = () => provenInclusion(log, { leafIndex: 2, leafHash: new Uint8Array(32) }, { treeSize: 2, rootHash: new Uint8Array(32) }, 'position 9', 'inclusion proof');
    expect(refuse).toThrow(expect.objectContaining({ code: 'not_found' }));
    expect(refuse).toThrow(/leaf 2\) is not covered by the signed checkpoint of tree size 2/);
  });
});
