import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, settled } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Found in review 281 (SER-025): GET /v1/transparency/proofs/inclusion?position=N at an event of a pseudonym's stream
 * was refused (403) with a detail whose CLI hint named the pseudonym at that position (`credence pseudonym resolve
 * p-… --reason TEXT`). Any read role takes a node's position (GET /v1/entities/node/{id} shows it), asks the next one,
 * or walks every position, and had node <-> pseudonym with nothing recorded: of a registration's rotation, of a
 * rotation on demand alike. A caller who asked by position named no pseudonym, and the refusal names none either.
 */
describe('an inclusion proof refused at a position of a pseudonym names no pseudonym', () => {
  const NODES = ['probed-meter-1', 'probed-meter-2', 'probed-meter-3'] as const;
  let svc: TestService;
  const pseudonyms: string[] = [];

  const call = async (method: 'GET' | 'POST', path: string, token: string, json?: unknown): Promise<{ status: number; text: string }> => {
    const response = await fetch(`${svc.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
    return { status: response.status, text: await response.text() };
  };

  beforeAll(async () => {
    svc = await startTestService();
    for (const node of NODES) expect((await call('POST', '/v1/commands', svc.tokens.operator, body.registerNode(node))).status).toBe(201);
    await settled(svc);
    expect((await call('POST', '/v1/pseudonyms/rotations', svc.tokens.operator, { nodeId: NODES[1] })).status).toBe(201);
    await settled(svc);
    for await (const e of svc.service.context.credence.store.readAll()) {
      if (e.type === 'PseudonymRotated') pseudonyms.push(String(e.data['pseudonym']));
    }
    // One at each registration and the one asked for.
    expect(pseudonyms).toHaveLength(4);
  });
  afterAll(async () => {
    await svc?.close();
  });

  const noPseudonymIn = (text: string, what: string): void => {
    expect(text, what).not.toMatch(/p-[a-z2-7]{26}/);
    for (const pseudonym of pseudonyms) expect(text, what).not.toContain(pseudonym);
  };

  it('answers positions 1..8 to an operator, an admin and an auditor who resolved nothing without naming any pseudonym', async () => {
    for (const role of ['operator', 'admin', 'auditor'] as const) {
      let refused = 0;
      for (let position = 1; position <= 8; position++) {
        const reply = await call('GET', `/v1/transparency/proofs/inclusion?position=${position}`, svc.tokens[role]);
        noPseudonymIn(reply.text, `${role} at ${position}`);
        if (reply.status === 403) {
          refused++;
          // Still says how to read it accountably.
          expect(reply.text, `${role} at ${position}`).toContain('/v1/pseudonyms/resolutions');
        }
      }
      // Every rotation is refused, each without its pseudonym.
      expect(refused, role).toBe(4);
    }
  });

  it("names no pseudonym at the position after a node's own, which the node's entity shows", async () => {
    for (const node of NODES) {
      const entity = await call('GET', `/v1/entities/node/${node}`, svc.tokens.operator);
      expect(entity.status).toBe(200);
      const position = BigInt((JSON.parse(entity.text) as { position: string }).position);
      for (const asked of [position - 1n, position, position + 1n]) {
        if (asked < 1n) continue;
        noPseudonymIn((await call('GET', `/v1/transparency/proofs/inclusion?position=${asked}`, svc.tokens.operator)).text, `${node} ${asked}`);
      }
    }
  });
});
