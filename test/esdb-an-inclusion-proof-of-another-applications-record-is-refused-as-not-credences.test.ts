import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProblemResponse, request } from '../adapters/client/http.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { settled } from './http-sse.fixtures.ts';
import type { TestService } from './support/service.ts';
import { foreignRecord, registerNode, useSharedCluster } from './support/shared-cluster.ts';

/*
 * After review 193: the transparency log keeps a leaf for every record of $all, another application's too on an
 * EventStoreDB cluster shared with it. The inclusion route served such a record in full (its data is not Credence's
 * to publish) and, once the other application's stream was deleted and scavenged, refused it as tampering (422 "the
 * store does not hold that event; run credence verify --data"), while that audit passes over it by design
 * (`scavengedForeign`). Now it is 404 either way, saying it is another application's record; a Credence record gone
 * from the store stays the 422 it is.
 */

describe('an inclusion proof asked of another application\'s record on a shared cluster', () => {
  const cluster = useSharedCluster();

  /** A Credence record, another application's, another Credence record: all logged. */
  const logged = async (): Promise<{ svc: TestService; standIn: StandIn; foreignStream: string; foreign: bigint; own: bigint }> => {
    const { svc, standIn } = await cluster.start();
    await registerNode(svc, 'foreign-proof-1');
    const foreignStream = `orders-${randomUUID()}`;
    foreignRecord(standIn, foreignStream);
    await registerNode(svc, 'foreign-proof-2');
    await settled(svc);
    const leaves = [...svc.service.context.credence.transparencyLog!.log.leaves()];
    const foreign = leaves.find((l) => l.stream?.streamId === foreignStream)!.position;
    const own = leaves.find((l) => l.stream?.streamId === 'node-foreign-proof-2')!.position;
    return { svc, standIn, foreignStream, foreign, own };
  };

  /** The status and body served, a problem's too. */
  const proofAt = async (svc: TestService, position: bigint): Promise<{ status: number; body: { detail?: string; event?: unknown } }> => {
    try {
      const { status, body } = await request<{ event: unknown }>(svc.url, { path: `/v1/transparency/proofs/inclusion?position=${position}`, token: svc.tokens.auditor });
      return { status, body };
    } catch (error) {
      if (error instanceof ProblemResponse) return { status: error.status, body: error.problem };
      throw error;
    }
  };

  it('is refused (404) while the store holds it, without its data', async () => {
    const { svc, foreign, own } = await logged();
    expect((await proofAt(svc, own)).status).toBe(200);

    const reply = await proofAt(svc, foreign);
    expect(reply.status).toBe(404);
    expect(JSON.stringify(reply.body)).not.toContain('order');
    expect(reply.body.detail).toMatch(/another application's record/);
    expect(reply.body.detail).not.toMatch(/verify --data/);
  }, 60_000);

  it('is refused (404), not taken for tampering, once that application scavenged it', async () => {
    const { svc, standIn, foreignStream, foreign } = await logged();
    standIn.log.scavenge(foreignStream);

    const reply = await proofAt(svc, foreign);
    expect(reply.status).toBe(404);
    expect(reply.body.detail).toMatch(/another application's record/);
    expect(reply.body.detail).toMatch(/scavenged/);
    expect(reply.body.detail).not.toMatch(/verify --data/);
  }, 60_000);

  it('still refuses a Credence record gone from the store as tampering (422)', async () => {
    const { svc, standIn, own } = await logged();
    standIn.log.scavenge('node-foreign-proof-2');

    const reply = await proofAt(svc, own);
    expect(reply.status).toBe(422);
    expect(reply.body.detail).toMatch(/does not hold that event; run credence verify --data/);
  }, 60_000);
});
