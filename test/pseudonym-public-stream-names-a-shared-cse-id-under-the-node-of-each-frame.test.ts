import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { operator } from './support/fleet.ts';
import { useTestService } from './support/service.ts';
import { dataOf, openStream, ops, settled } from './http-sse.fixtures.ts';

/*
 * Review 112 (SER-011, SER-025): a CSE-ID was named under the node that enrolled with it last. Two live nodes may hold
 * one CSE-ID for a while (a replacement device enrolled before the old one is revoked, RS-01), and then the first
 * node's association frames named the CSE-ID under the second node: one pseudonym before and after the first node
 * rotated, equal to the one in the second node's enrolment, so it linked the first node's epochs. A CSE-ID is now
 * named under the node of the frame (its enrolment, the association's node, a CSE credential's node).
 */
describe("a CSE-ID two live nodes hold, in the integrators' pseudonymised stream", () => {
  const svc = useTestService();

  it("is named under each frame's node, so it changes with the first node's rotation and differs from the other node's", async () => {
    const engine = svc.service.context.credence.engine;
    await engine.execute(ops.createSubscription('city-7'));
    for (const node of ['old-meter', 'new-meter']) await engine.execute(ops.registerNode(node));
    const enrol = (nodeId: string) => command('enrolNode', { nodeId, subscriptionId: 'city-7', cseId: '/shared-cse' }, { actor: operator });
    await engine.execute(enrol('old-meter'));
    await engine.execute(ops.issueCredential('old-svc', 'old-meter'));
    await engine.execute(ops.provisionCredential('old-svc'));
    // The replacement enrols with the same CSE-ID while the old one is still live.
    await engine.execute(enrol('new-meter'));
    const configure = (associationId: string) =>
      command(
        'configureAssociation',
        { associationId, nodeId: 'old-meter', credentialId: 'old-svc', registree: { kind: 'cse', id: '/shared-cse' }, registrarCseId: '/in-cse' },
        { actor: operator },
      );
    await engine.execute(configure('sa-before'));
    await settled(svc);
    const rotated = await fetch(`${svc.url}/v1/pseudonyms/rotations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ nodeId: 'old-meter' }),
    });
    expect(rotated.status).toBeLessThan(300);
    await settled(svc);
    await engine.execute(configure('sa-after'));
    await settled(svc);

    const stream = await openStream(svc.url, svc.tokens.integrator, '/v1/events?identifiers=pseudonymous&from=start');
    expect(stream.status).toBe(200);
    const framesOf = (type: string) => stream.events().filter((e) => e.event === type).map((e) => dataOf(e)['data'] as Record<string, unknown>);
    await stream.until(() => framesOf('AssociationConfigured').length === 2 && framesOf('NodeEnrolled').length === 2, 'two enrolments and two configurations');
    stream.close();
    const [before, after] = framesOf('AssociationConfigured') as { nodeId: string; registree: { id: string } }[];
    const [oldEnrolled, newEnrolled] = framesOf('NodeEnrolled') as { nodeId: string; cseId: string }[];

    expect(before!.nodeId).not.toBe(after!.nodeId);
    // Before: one CSE pseudonym across the old node's rotation, equal to the one in the new node's enrolment.
    expect(before!.registree.id).not.toBe(after!.registree.id);
    expect([before!.registree.id, after!.registree.id]).not.toContain(newEnrolled!.cseId);
    // Under the old node's first epoch, its association names the CSE-ID as its own enrolment did.
    expect(before!.registree.id).toBe(oldEnrolled!.cseId);
    expect(oldEnrolled!.cseId).not.toBe(newEnrolled!.cseId);
    for (const frame of [before, after, oldEnrolled, newEnrolled]) expect(JSON.stringify(frame)).not.toContain('shared-cse');
  });
});
