import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { placeholderKey, operator } from './support/fleet.ts';
import { useTestService } from './support/service.ts';
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

describe("an AE credential in the integrators' pseudonymised stream", () => {
  const svc = useTestService();

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

    // meter-1 rotated between its two associations: nothing of either frame but the stable handles (the owner kind,
    // the App-ID) is in the other; its registrar CSE (/in-cse-9, not the infrastructure's own /in-cse) is named under
    // meter-1's epochs too (review 379).
    expect(sa1a!.nodeId).not.toBe(sa1b!.nodeId);
    const stable = new Set(['ae', 'Rmeterapp']);
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

  /** Registers and enrols `nodes` under a new subscription and an App-ID whose AE-ID they use (`registree`). */
  const fleetWithApp = async (suffix: string, nodes: readonly string[]) => {
    const engine = svc.service.context.credence.engine;
    const run = (type: Parameters<typeof command>[0], data: Record<string, unknown>) => engine.execute(command(type, data, { actor: operator }));
    const from = (await svc.service.context.credence.store.headPosition()) ?? 0n;
    const appId = `Rapp${suffix}`;
    const registree = { kind: 'ae', id: `Capp${suffix}`, appId } as const;
    await engine.execute(ops.createSubscription(`city-${suffix}`));
    for (const node of nodes) {
      await engine.execute(ops.registerNode(node));
      await engine.execute(ops.enrolNode(node, `city-${suffix}`));
    }
    await run('registerApplication', { appId, name: 'metering', provider: 'Acme' });
    await run('issueCredential', {
      credentialId: `app-cred-${suffix}`, kind: 'p256', ...placeholderKey(`app-cred-${suffix}`, 'p256'), purpose: 'application', owner: { kind: 'app', id: appId },
      notBefore: fromNow(-1), notAfter: fromNow(300),
    });
    await run('provisionCredential', { credentialId: `app-cred-${suffix}`, method: 'pre-provisioning' });
    await run('enrolApplication', { appId, credentialId: `app-cred-${suffix}` });
    const issueAe = async (credentialId: string, predecessorId?: string, provision = true) => {
      await run('issueCredential', {
        credentialId, kind: 'ed25519', ...placeholderKey(credentialId), purpose: 'service', owner: registree,
        notBefore: fromNow(-1), notAfter: fromNow(90), ...(predecessorId === undefined ? {} : { predecessorId }),
      });
      if (provision) await run('provisionCredential', { credentialId, method: 'pre-provisioning' });
      await settled(svc);
    };
    const configure = async (associationId: string, nodeId: string, credentialId: string) => {
      await run('configureAssociation', { associationId, nodeId, credentialId, registree, registrarCseId: '/in-cse-9' });
      await settled(svc);
    };
    const rotate = async (nodeId: string) => {
      const rotated = await fetch(`${svc.url}/v1/pseudonyms/rotations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ nodeId }),
      });
      expect(rotated.status).toBeLessThan(300);
      await settled(svc);
    };
    await settled(svc);
    return { from, run, issueAe, configure, rotate };
  };

  /** The integrator's frames of `type` past `from`, once `count` of them came. */
  const framesOf = async (from: bigint, type: string, count: number) => {
    const stream = await openStream(svc.url, svc.tokens.integrator, '/v1/events?identifiers=pseudonymous&from=start');
    expect(stream.status).toBe(200);
    const of = () => stream.events().filter((e) => e.event === type && BigInt(e.id!.split('~')[0]!) > from);
    await stream.until(() => of().length >= count, `${count} ${type} frames`);
    stream.close();
    return of().map((e) => dataOf(e)['data'] as Record<string, unknown>);
  };

  it("names the AE-ID owning a successor under its predecessor's node, so successive issuances never chain a node's epochs (review 45, F1)", async () => {
    const fleet = await fleetWithApp('f1', ['meter-f1']);
    await fleet.issueAe('ae-c1');
    await fleet.configure('sa-f1a', 'meter-f1', 'ae-c1');
    await fleet.issueAe('ae-c2', 'ae-c1');
    await fleet.rotate('meter-f1');
    await fleet.configure('sa-f1b', 'meter-f1', 'ae-c2');
    await fleet.issueAe('ae-c3', 'ae-c2');
    await fleet.issueAe('ae-c4');
    await fleet.issueAe('ae-c5');

    const issued = (await framesOf(fleet.from, 'CredentialIssued', 6)) as { credentialId: string; owner: { kind: string; id: string }; predecessorId?: string }[];
    const assoc = (await framesOf(fleet.from, 'AssociationConfigured', 2)) as { credentialId: string; nodeId: string }[];
    const [c1, c2, c3, c4, c5] = issued.filter((d) => d.owner.kind === 'ae');
    const [sa1a, sa1b] = assoc;
    expect(sa1a!.nodeId).not.toBe(sa1b!.nodeId);
    // The predecessors are named under meter-f1, epoch 0 then epoch 1, as its associations name them.
    expect(c2!.predecessorId).toBe(sa1a!.credentialId);
    expect(c3!.predecessorId).toBe(sa1b!.credentialId);
    // So the owner beside each is never one pseudonym: it would chain the two epochs.
    expect(c2!.owner.id).not.toBe(c3!.owner.id);
    // A credential of no node yet names its AE-ID with the credential as context: each issuance its own pseudonym.
    expect(new Set([c1!.owner.id, c2!.owner.id, c3!.owner.id, c4!.owner.id, c5!.owner.id]).size).toBe(5);
    // Nothing but the stable fields of one of meter-f1's epoch-0 issuances is in its epoch-1 one.
    const stable = new Set(['ae', 'service', 'ed25519', c2!['notBefore' as never], c2!['notAfter' as never]]);
    expect(strings(c2).filter((s) => !stable.has(s) && s !== c2!.credentialId && strings(c3).includes(s))).toEqual([]);
  });

  it("names a successor of no node yet under its predecessor's node from the rotation on, so its start and abandonment across the node's rotation share no name (review 45, F1)", async () => {
    const fleet = await fleetWithApp('fr', ['meter-fr']);
    // The successor is issued while its predecessor is bound to no node, so is bound to none at issue; then an
    // association binds the predecessor to meter-fr.
    await fleet.issueAe('ae-r1');
    // Not provisioned: a rotation is abandoned only while its node does not hold the successor.
    await fleet.issueAe('ae-r2', 'ae-r1', false);
    await fleet.configure('sa-fr', 'meter-fr', 'ae-r1');
    await fleet.run('startCredentialRotation', { credentialId: 'ae-r1', successorId: 'ae-r2', overlapEndsAt: fromNow(30) });
    await settled(svc);
    await fleet.rotate('meter-fr');
    await fleet.run('abandonCredentialRotation', { credentialId: 'ae-r1', successorId: 'ae-r2' });
    await settled(svc);

    const [started] = (await framesOf(fleet.from, 'CredentialRotationStarted', 1)) as { credentialId: string; successorId: string }[];
    const [abandoned] = (await framesOf(fleet.from, 'CredentialRotationAbandoned', 1)) as { credentialId: string; successorId: string }[];
    expect(started!.credentialId).not.toBe(abandoned!.credentialId);
    expect(started!.successorId, "the successor beside meter-fr's epoch-0 and epoch-1 credential").not.toBe(abandoned!.successorId);
  });

  it("names a credential two nodes use under each association's node, so it changes with each node's rotation (review 45, F2)", async () => {
    const fleet = await fleetWithApp('f2', ['meter-f2a', 'meter-f2b']);
    await fleet.issueAe('ae-shared');
    await fleet.configure('sa-f2-3', 'meter-f2a', 'ae-shared');
    await fleet.configure('sa-f2-4a', 'meter-f2b', 'ae-shared');
    await fleet.rotate('meter-f2b');
    await fleet.configure('sa-f2-4b', 'meter-f2b', 'ae-shared');

    const [sa3, sa4a, sa4b] = (await framesOf(fleet.from, 'AssociationConfigured', 3)) as { credentialId: string; nodeId: string }[];
    expect(sa4a!.nodeId).not.toBe(sa4b!.nodeId);
    expect(sa4a!.credentialId, "the shared credential in meter-f2b's frames before and after its rotation").not.toBe(sa4b!.credentialId);
    // And named apart on the two nodes.
    expect(sa3!.credentialId).not.toBe(sa4a!.credentialId);
  });
});
