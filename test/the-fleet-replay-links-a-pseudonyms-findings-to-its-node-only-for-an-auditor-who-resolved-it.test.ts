import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExpectedRevision, type JsonObject } from '../domain/ports/event-store.ts';
import { openApi, registeredPseudonym, type Api } from './http-conformance.fixtures.ts';
import type { Principal } from '../adapters/http/context.ts';
import { findingsTold } from '../adapters/http/routes/replay-findings-told.ts';
import type { Finding } from '../projections/replay/index.ts';
import { forge, forgedMetadata } from './replay.fixtures.ts';
import { profile } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

interface WireFinding {
  readonly streamId: string;
  readonly position: string;
  readonly type: string;
  readonly reason: string;
  readonly followsFrom?: { readonly streamId: string; readonly position: string };
}
interface WireVerdict {
  readonly findings: readonly WireFinding[];
  readonly findingsTotal: number;
  readonly findingsByNewerRules: number;
  readonly findingsFollowingNewerRules: number;
}

/**
 * Review 228 (SER-025): GET /v1/replay gave every read role each finding with `followsFrom`. A rotation refused
 * because its node is revoked reads the node as a fact: once the node's stream had a finding, the pseudonym's finding
 * followed from it, `followsFrom: { streamId: "node-meter-1" }`, naming the node the per-entity replay refuses to name
 * (403). A pseudonym's finding (its `followsFrom`, and the ids its reason quotes: the rotation's command id, which
 * derives from the node, or a node's id on a record stored in its stream), and another entity's finding naming a
 * pseudonym, are now told whole only to an auditor who recorded a resolution of that pseudonym.
 */
describe("the fleet replay links a pseudonym's findings to its node only for an auditor who resolved it", () => {
  const NODE = 'meter-1';
  // A pseudonym the rotation at epoch 1 takes (forged: refused, the node is revoked).
  const LATER = 'p-forgedaaaaaaaaaaaaaaaaaaaa';
  let svc: TestService;
  let api: Api;
  let first = '';
  let rotationCommandId = '';
  let otherAuditor = '';

  const verdictFor = async (token: string): Promise<WireVerdict> => {
    const reply = await api.call<WireVerdict>('GET', '/v1/replay', {}, { token, query: { full: 'true', limit: '10000' } });
    expect(reply.status).toBe(200);
    return reply.body;
  };
  const ofPseudonym = (f: WireFinding): boolean => f.streamId.startsWith('pseudonym-');
  /** A resolution of `pseudonym` by the auditor, as the engine records one (actor in the metadata, the why in the data). */
  const forgeResolution = async (pseudonym: string): Promise<void> => {
    const store = svc.service.context.credence.store;
    const stream = `pseudonym-${pseudonym}`;
    const last = (await store.readStream(stream)).at(-1)!;
    const metadata = { ...forgedMetadata(crypto.randomUUID(), new Date().toISOString()), actor: { id: 'test-auditor', role: 'auditor' }, commandType: 'resolvePseudonym' };
    await store.appendToStream(stream, [{ id: crypto.randomUUID(), type: 'PseudonymResolved', data: { pseudonym, reason: 'case 2026-228' }, metadata }], {
      expectedRevision: ExpectedRevision.after(last.revision),
    });
  };
  const nodeWords = (): string[] => [NODE, rotationCommandId];

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    first = await registeredPseudonym(svc, NODE);
    const store = svc.service.context.credence.store;
    rotationCommandId = String((await store.readStream(`pseudonym-${first}`))[0]!.metadata['commandId']);
    const at = new Date().toISOString();
    // Written around the engine: the node revoked, then registered again (refused: a finding on the node's stream),
    // then its rotation at epoch 1, refused (its node is revoked), which reads the node behind that finding.
    await forge(store, `node-${NODE}`, 'NodeRevoked', { nodeId: NODE, reason: 'keyCompromise' }, at);
    await forge(store, `node-${NODE}`, 'NodeRegistered', { nodeId: NODE, profile } as unknown as JsonObject, at);
    await forge(store, `pseudonym-${LATER}`, 'PseudonymRotated', { pseudonym: LATER, nodeId: NODE, epoch: 1, trigger: 'interval' }, at);
    // Findings whose reasons quote ids: the first rotation recorded again under its command id (derived from the
    // node's registration), the node's registration stored in the pseudonym's stream, and a rotation in the node's.
    await forge(store, `pseudonym-${first}`, 'PseudonymRotated', { pseudonym: first, nodeId: NODE, epoch: 0, trigger: 'initial' }, at, rotationCommandId);
    await forge(store, `pseudonym-${first}`, 'NodeRegistered', { nodeId: NODE, profile } as unknown as JsonObject, at);
    await forge(store, `node-${NODE}`, 'PseudonymRotated', { pseudonym: LATER, nodeId: NODE, epoch: 2, trigger: 'interval' }, at);
    // Both streams are broken now, so the engine refuses to resolve them (500 broken_history): the auditor's
    // resolutions are stored as the engine records one.
    await forgeResolution(first);
    await forgeResolution(LATER);
    otherAuditor = (await svc.service.context.access.issue({ subject: 'other-auditor', role: 'auditor', ttlSeconds: 3600, issuedBy: 'test' })).token;
  });
  afterAll(async () => {
    await svc?.close();
  });

  /** Nothing told to this caller links a pseudonym to the node, and the counts are those of what it is told. */
  const expectNoLink = (verdict: WireVerdict, who: string): void => {
    const pseudonyms = verdict.findings.filter(ofPseudonym);
    expect(new Set(pseudonyms.map((f) => f.streamId)), who).toEqual(new Set([`pseudonym-${first}`, `pseudonym-${LATER}`]));
    for (const f of pseudonyms) {
      expect(f, who).not.toHaveProperty('followsFrom');
      for (const word of nodeWords()) expect(JSON.stringify(f), `${who}: ${f.reason}`).not.toContain(word);
    }
    for (const f of verdict.findings.filter((g) => !ofPseudonym(g))) {
      for (const word of [first, LATER]) expect(JSON.stringify(f), `${who}: ${f.reason}`).not.toContain(word);
    }
    expect(verdict.findingsTotal, who).toBe(verdict.findings.length);
    expect(verdict.findingsFollowingNewerRules, who).toBe(0);
  };

  it('tells operators, admins and an auditor who resolved neither pseudonym no link between a pseudonym and its node', async () => {
    for (const [who, token] of [['operator', svc.tokens.operator], ['admin', svc.tokens.admin], ['other auditor', otherAuditor]] as const) {
      expectNoLink(await verdictFor(token), who);
    }
  });

  it('tells the auditor who recorded a resolution the whole findings of that pseudonym', async () => {
    const told = await verdictFor(svc.tokens.auditor);
    const later = told.findings.find((f) => f.streamId === `pseudonym-${LATER}`)!;
    expect(later.followsFrom).toMatchObject({ streamId: `node-${NODE}` });
    const firsts = told.findings.filter((f) => f.streamId === `pseudonym-${first}`).map((f) => f.reason);
    expect(firsts.join('\n')).toContain(rotationCommandId);
    expect(firsts.join('\n')).toContain(`addressed to ${NODE}`);
    expect(told.findings.find((f) => f.streamId === `node-${NODE}` && f.type === 'PseudonymRotated')!.reason).toContain(LATER);
  });

  it("tells the node's own replay without the pseudonym a rotation stored in its stream names, but to the auditor who resolved it", async () => {
    const replayOf = async (token: string) => api.call('GET', '/v1/replay/{kind}/{id}', { kind: 'node', id: NODE }, { token });
    for (const token of [otherAuditor, svc.tokens.operator, svc.tokens.admin]) {
      const reply = await replayOf(token);
      expect(reply.status).toBe(200);
      expect(reply.text).toContain('PseudonymRotated is addressed to another pseudonym');
      expect(reply.text).not.toContain(LATER);
    }
    expect((await replayOf(svc.tokens.auditor)).text).toContain(`PseudonymRotated is addressed to ${LATER} but stored in node-${NODE}`);
  });

  it('drops the link of a finding on another entity that follows from a pseudonym\'s, for a caller who did not resolve it', async () => {
    const operator = { subject: 'operator:alice', role: 'operator', tokenId: 'tok_x' } as unknown as Principal;
    const findings: Finding[] = [
      { streamId: `pseudonym-${LATER}`, position: 5n, revision: 0n, type: 'PseudonymRotated', reason: 'refused' },
      { streamId: 'node-meter-2', position: 6n, revision: 1n, type: 'NodeEnrolled', reason: 'refused', followsFrom: { streamId: `pseudonym-${LATER}`, position: 5n } },
      { streamId: 'node-meter-2', position: 7n, revision: 2n, type: 'NodeRevoked', reason: 'refused', followsFrom: { streamId: 'node-meter-2', position: 6n } },
      { streamId: 'association-sa-9', position: 8n, revision: 0n, type: 'AssociationConfigured', reason: 'refused', followsFrom: { streamId: 'node-meter-2', position: 6n } },
    ];
    const told = await findingsTold(svc.service.context, operator, findings);
    expect(told[1]).not.toHaveProperty('followsFrom');
    expect(told[2]!.followsFrom).toEqual({ streamId: 'node-meter-2', position: 6n });
    expect(told[3]!.followsFrom).toEqual({ streamId: 'node-meter-2', position: 6n });
  });

  it('answers the per-entity replay of the pseudonym 403 to the same callers, as before', async () => {
    for (const token of [otherAuditor, svc.tokens.operator, svc.tokens.admin]) {
      expect((await api.call('GET', '/v1/replay/{kind}/{id}', { kind: 'pseudonym', id: LATER }, { token })).status).toBe(403);
    }
  });
});
