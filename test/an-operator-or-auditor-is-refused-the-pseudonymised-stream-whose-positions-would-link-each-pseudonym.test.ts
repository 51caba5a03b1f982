import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';
import { dataOf, openStream, ops, settled } from './http-sse.fixtures.ts';

/*
 * Review 229 (SER-025): an operator's or an auditor's token opened both the canonical stream and, on asking
 * (identifiers=pseudonymous), the pseudonymised one. Their frames carry the same positions, so the frame at one position
 * named `meter-01` on one and `p-futy…` on the other: every pseudonym of every node, every epoch, linked to its node with
 * no resolution recorded. Operators and auditors read canonical identifiers only now (an auditor links a pseudonym by
 * recording a resolution); the pseudonymised stream is refused them with a 403, before anything streams.
 */
describe('the pseudonymised event stream', () => {
  const svc = useTestService();

  it('is refused to an operator and to an auditor (403, saying why), whose canonical stream pairs with it position by position', async () => {
    const engine = svc.service.context.credence.engine;
    await engine.execute(ops.createSubscription('city-9'));
    await engine.execute(ops.registerNode('meter-01'));
    await engine.execute(ops.enrolNode('meter-01', 'city-9'));
    await settled(svc);

    // What the pair would have linked: the canonical enrolment names the node; the integrators' frame at the same
    // position names a pseudonym of it.
    const canonical = await openStream(svc.url, svc.tokens.operator, '/v1/events?from=start&type=NodeEnrolled');
    await canonical.until(() => canonical.events().length === 1, 'the canonical enrolment');
    canonical.close();
    const position = canonical.events()[0]!.id.split('~')[0]!;
    expect(dataOf(canonical.events()[0]!)['data']).toMatchObject({ nodeId: 'meter-01' });
    const integrators = await openStream(svc.url, svc.tokens.integrator, '/v1/events?from=start&type=NodeEnrolled&identifiers=pseudonymous');
    expect(integrators.status).toBe(200);
    await integrators.until(() => integrators.events().length === 1, "the integrators' enrolment");
    integrators.close();
    expect(integrators.events()[0]!.id.split('~')[0]).toBe(position);
    expect(JSON.stringify(dataOf(integrators.events()[0]!))).not.toContain('meter-01');

    for (const role of ['operator', 'auditor'] as const) {
      for (const path of ['/v1/events?identifiers=pseudonymous', '/v1/events?from=start&type=NodeEnrolled&identifiers=pseudonymous']) {
        const refused = await openStream(svc.url, svc.tokens[role], path);
        refused.close();
        expect(refused.status, `${role} ${path}`).toBe(403);
        expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
        expect(refused.frames).toEqual([]);
        expect(String(refused.problem!['detail'])).toMatch(/canonical identifiers only/);
        expect(String(refused.problem!['detail'])).toMatch(/resolution/);
      }
    }
  });
});
