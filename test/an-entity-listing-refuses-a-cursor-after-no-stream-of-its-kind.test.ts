/**
 * Review 461 (F3): GET /v1/entities took a cursor whose `after` could not belong to the listing. `kind=credential`
 * with a cursor after `node-meter-1` answered 200 with no items and no `nextCursor`, which a pager reads as "no more";
 * a listing of every kind after a word that is no stream id skipped or listed rows at random. Such a cursor is
 * refused, 400 naming `query.cursor` (rule `cursor`, as every other cursor refusal), saying what its `after` must be:
 * a stream id of the listing's kind, or, without `kind`, of any kind. A cursor the listing returned still pages on.
 */
import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';
import { body, settled } from './http-conformance.fixtures.ts';

const NODES = ['meter-1', 'meter-2', 'meter-3'];

/** A cursor as the service encodes one (adapters/http/page-cursor.ts), around an `after` of the client's choosing. */
const forged = (after: string, kind: string | null, state: string | null = null): string =>
  Buffer.from(JSON.stringify({ after, query: JSON.stringify([kind, state]) }), 'utf8').toString('base64url');

describe('GET /v1/entities?cursor= after no stream of the listing', () => {
  const svc = useTestService();
  const list = async (query: Record<string, string>) => {
    const response = await fetch(`${svc.url}/v1/entities?${new URLSearchParams(query).toString()}`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    return { status: response.status, body: (await response.json()) as { items?: { streamId: string }[]; nextCursor?: string; errors?: { path: string; rule: string; message: string }[] } };
  };
  const refusal = (message: string) => ({ errors: [{ path: 'query.cursor', rule: 'cursor', message: expect.stringContaining(message) }] });

  it('seeds a subscription and three nodes', async () => {
    const command = async (payload: unknown) => {
      const response = await fetch(`${svc.url}/v1/commands`, {
        method: 'POST',
        headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
      expect(response.status).toBe(201);
    };
    await command(body.createSubscription());
    for (const node of NODES) await command(body.registerNode(node));
    await settled(svc);
  });

  it("refuses, with kind=credential, a cursor after a node's stream (it answered an empty last page)", async () => {
    const answer = await list({ kind: 'credential', cursor: forged('node-meter-1', 'credential') });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject(refusal("a credential's stream id (credential-<id>)"));
  });

  it("refuses, with kind=node and a state, a cursor after another kind's stream, and one after no stream id", async () => {
    for (const after of ['subscription-sub-1', 'credential-c-1', 'meter-1', 'zzzz']) {
      const answer = await list({ kind: 'node', state: 'initialized', cursor: forged(after, 'node', 'initialized') });
      expect([after, answer.status]).toEqual([after, 400]);
      expect(answer.body).toMatchObject(refusal("a node's stream id (node-<id>)"));
    }
  });

  it('refuses, without kind, a cursor whose after is no stream id of any kind, saying what it must be, and never echoes it', async () => {
    for (const after of ['zzzz', 'nodes-meter-1', 'node-', '-meter-1', 'Node-meter-1', 'ghp_notastreamid0123456789']) {
      const answer = await list({ cursor: forged(after, null) });
      expect([after, answer.status]).toEqual([after, 400]);
      expect(answer.body).toMatchObject(refusal("an entity's stream id (<kind>-<id>"));
      const [issue] = answer.body.errors!;
      for (const kind of ['node', 'credential', 'association', 'application', 'subscription', 'pseudonym']) expect(issue!.message).toContain(kind);
      expect(issue!.message).not.toContain(after);
    }
  });

  it("takes, without kind, an after of any kind's stream id: the listing of every kind is in stream-id order across kinds", async () => {
    const answer = await list({ cursor: forged('node-zzzz', null) });
    expect(answer.status).toBe(200);
    expect(answer.body.items!.map((i) => i.streamId)).toEqual(['subscription-sub-1']);
  });

  it('pages on with the cursors the listing returned, of one kind and of every kind', async () => {
    for (const query of [{ kind: 'node' }, { kind: 'node', state: 'initialized' }, {}] as Record<string, string>[]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const answer = await list({ ...query, limit: '1', ...(cursor !== undefined ? { cursor } : {}) });
        expect(answer.status).toBe(200);
        seen.push(...answer.body.items!.map((i) => i.streamId));
        cursor = answer.body.nextCursor;
        if (cursor === undefined) break;
      }
      const nodes = NODES.map((n) => `node-${n}`);
      expect(seen).toEqual(query['kind'] === undefined ? [...nodes, 'subscription-sub-1'] : nodes);
    }
  });
});
