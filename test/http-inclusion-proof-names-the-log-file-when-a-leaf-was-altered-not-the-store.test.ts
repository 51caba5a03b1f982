import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reply } from './http-conformance.fixtures.ts';
import { loggedNodeOn } from './support/logged-data.ts';
import { startTestService, type TestService } from './support/service.ts';
import { alterFile } from './support/tampered-log.ts';

/*
 * Found in review 159: GET /v1/transparency/proofs/inclusion over a transparency.db altered under untouched events
 * blamed the store (422 "the store does not hold that event", "holds that event altered"), or answered 404 "no logged
 * event" where a middle leaf was deleted. The log file is named as the one altered where the log key vouches for the
 * stored event (review 164: only a checkpoint whose signature verifies, through the log's audit path), else neither.
 */
describe('the inclusion proof route over a transparency.db whose leaf rows were altered', () => {
  let svc: TestService;
  let position: bigint;
  let leafIndex: number;
  let inclusion: () => Promise<Reply<any>>;
  const alter = (file: string, sql: string): void => alterFile(svc.dir, file, sql);

  beforeEach(async () => {
    svc = await startTestService();
    ({ position, inclusion } = await loggedNodeOn(svc));
    leafIndex = svc.service.context.credence.transparencyLog!.log.leafByPosition(position)!.leafIndex;
  });
  afterEach(async () => {
    await svc?.close();
  });

  it("a leaf's event id changed: 422 naming the leaf of transparency.db as altered", async () => {
    alter('transparency.db', `UPDATE leaves SET event_id = 'forged-id' WHERE leaf_index = ${leafIndex}`);
    const reply = await inclusion();
    expect(reply.status).toBe(422);
    expect(reply.body.detail).toMatch(new RegExp(`transparency\\.db: leaf ${leafIndex} \\(position ${position}\\) disagrees with the store's event there, which the signed checkpoint covers at that leaf: the log file was altered`));
  });

  it("another leaf's hash copied over it: 422 naming the leaf, the stored event still under the signed checkpoint", async () => {
    alter('transparency.db', `UPDATE leaves SET leaf_hash = (SELECT leaf_hash FROM leaves WHERE leaf_index = ${leafIndex + 1}) WHERE leaf_index = ${leafIndex}`);
    const reply = await inclusion();
    expect(reply.status).toBe(422);
    expect(reply.body.detail).toMatch(new RegExp(`transparency\\.db: leaf ${leafIndex} \\(position ${position}\\) disagrees with the store's event there, which the signed checkpoint covers at that leaf: the log file was altered`));
  });

  it('the leaf deleted: 422 naming the missing leaf, not 404 "no logged event"', async () => {
    alter('transparency.db', `DELETE FROM leaves WHERE leaf_index = ${leafIndex}`);
    const reply = await inclusion();
    expect(reply.status).toBe(422);
    expect(reply.body.detail).toMatch(new RegExp(`transparency\\.db holds no leaf ${leafIndex} and holds leaves after it`));
  });

  it('the event edited in events.db: neither file named, the audit tells (review 164)', async () => {
    alter('events.db', `UPDATE events SET data = json_set(data, '$.nodeId', 'forged') WHERE position = ${position}`);
    const reply = await inclusion();
    expect(reply.status).toBe(422);
    expect(reply.body.detail).toBe(
      `inclusion proof rejected: the store's event and the log's leaf disagree at position ${position}: run credence verify --data to tell which file was altered`,
    );
  });
});
