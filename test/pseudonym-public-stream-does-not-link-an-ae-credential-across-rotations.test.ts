import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { placeholderKey, operator } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { dataOf, openStream, ops, settled } from './http-sse.fixtures.ts';

/*
 * Found in review (SER-011, SER-025): a credential issued to an AE-ID was given to whichever node had last configured
 * an association for that AE-ID, and an AE-ID's pseudonym depended on the AE-ID and the epoch number alone. Two live
 * nodes may use one AE-ID (a C-prefixed AE-ID is unique only under its registrar): meter-1's AE credential was named
 * under meter-2, so it kept one pseudonym while meter-1 rotated, beside meter-1's epoch-0 and epoch-1 pseudonyms, and
 * the AE-ID had one pseudonym on both nodes at epoch 0. An AE credential is now bound to the node of the first
 * association configured with it, and every identifier a node owns is derived with that node.
 */
const DAY = 86_400_000;
const fromNow = (days: number): string => new Date(Date.now() + days * DAY).toISOString();
const AE = { kind: 'ae', id: 'Cmeterapp', appId: 'Rmeterapp' } as const;

/** Every string of a frame's data, however deep. */
const strings = (value: unknown, out: string[] = []): string[] => {
  if (typeof value === 'string') out.push(value);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
};

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

describe("an AE credential in the integrators' pseudonymised stream", () => {
  it("changes pseudonym with the node that uses it, though another node last used its AE-ID, and the AE-ID is named apart on each node", async () => {
    const engine = svc.service.context.credence.engine;
    const run = (type: Parameters<typeof command>[0], data: Record<string, unknown>) => engine.execute(command(type, data, { actor: operator }));
    await engine.execute(ops.createSubscription('city-9'));
    for (const node of ['meter-1', 'meter-2']) {
      await engine.execute(ops.registerNode(node));
      await engine.execute(ops.enrolNode(node, 'city-9'));
    }
    await run('registerApplication', { appId: 'Rmeterapp', name: 'metering', provider: 'Acme' });
    await run('issueCredential', {
      credentialId: 'app-cred-9', kind: 'p256', ...placeholderKey('app-cred-9', 'p256'), purpose: 'application', owner: { kind: 'app', id: 'Rmeterapp' },
      notBefore: fromNow(-1), notAfter: fromNow(300),
    });
    await run('provisionCredential', { credentialId: 'app-cred-9', method: 'pre-provisioning' });
    await run('enrolApplication', { appId: 'Rmeterapp', credentialId: 'app-cred-9' });
    await engine.execute(ops.issueCredential('meter-2-svc', 'meter-2'));
    await engine.execute(ops.provisionCredential('meter-2-svc'));
    await settled(svc);
    // meter-2 uses the AE-ID first.
    await run('configureAssociation', { associationId: 'sa-29', nodeId: 'meter-2', credentialId: 'meter-2-svc', registree: AE, registrarCseId: '/in-cse-9' });
    await settled(svc);
    // Then a credential for that AE-ID is issued, and meter-1 configures an association with it, rotates, and another.
    await run('issueCredential', {
      credentialId: 'meter-1-ae-cred', kind: 'ed25519', ...placeholderKey('meter-1-ae-cred'), purpose: 'service', owner: AE,
      notBefore: fromNow(-1), notAfter: fromNow(90),
    });
    await run('provisionCredential', { credentialId: 'meter-1-ae-cred', method: 'pre-provisioning' });
    await settled(svc);
    await run('configureAssociation', { associationId: 'sa-1a', nodeId: 'meter-1', credentialId: 'meter-1-ae-cred', registree: AE, registrarCseId: '/in-cse-9' });
    await settled(svc);
    const rotated = await fetch(`${svc.url}/v1/pseudonyms/rotations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ nodeId: 'meter-1' }),
    });
    expect(rotated.status).toBeLessThan(300);
    await settled(svc);
    await run('configureAssociation', { associationId: 'sa-1b', nodeId: 'meter-1', credentialId: 'meter-1-ae-cred', registree: AE, registrarCseId: '/in-cse-9' });
    await settled(svc);

    const stream = await openStream(svc.url, svc.tokens.integrator, '/v1/events?identifiers=pseudonymous&from=start');
    expect(stream.status).toBe(200);
    const configured = () => stream.events().filter((e) => e.event === 'AssociationConfigured');
    await stream.until(() => configured().length === 3, 'three AssociationConfigured frames');
    stream.close();
    const [sa2, sa1a, sa1b] = configured().map((e) => dataOf(e)['data'] as { nodeId: string; credentialId: string; registree: { id: string }; registrarCseId: string });

    // meter-1 rotated between its two associations: nothing of either frame but the stable handles (App-ID, the
    // infrastructure registrar's CSE) is in the other.
    expect(sa1a!.nodeId).not.toBe(sa1b!.nodeId);
    const stable = new Set(['ae', 'Rmeterapp', sa1a!.registrarCseId]);
    const shared = strings(sa1a).filter((s) => !stable.has(s) && strings(sa1b).includes(s));
    expect(shared, 'identifiers in both of meter-1\'s frames, across its rotation').toEqual([]);
    expect(sa1a!.credentialId).not.toBe(sa1b!.credentialId);
    // The AE-ID under meter-2 and under meter-1 (both at epoch 0) are two pseudonyms.
    expect(sa2!.registree.id).not.toBe(sa1a!.registree.id);

    // No canonical identifier in any frame.
    const canonical = ['meter-1', 'meter-2', 'city-9', 'Cmeterapp', 'meter-1-ae-cred', 'meter-2-svc', 'sa-1a', 'sa-1b', 'sa-29', '/cse-meter', '/in-cse-9', 'app-cred-9'];
    for (const e of stream.events()) {
      for (const text of strings(dataOf(e))) for (const id of canonical) expect(text.includes(id), `${e.event}: "${text}" contains "${id}"`).toBe(false);
    }
  });
});
