import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { at, cmd, operator, rejection, T0 } from './support/fleet.ts';

/*
 * RS-01, review 165 (F2): pins what README.md says of a device replacement. A CSE Registree is the CSE-ID its node
 * holds, read from that node's own enrolment (machines/guards.ts nodeHoldsCseId). Another node enrolled under the
 * same CSE-ID takes nothing from the old one: both hold it for a while (review 112). The old node stops holding it
 * only when it is itself enrolled under another CSE-ID (renumbered) or revoked.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const CSE = '/cse-meter-1';
const enrol = (nodeId: string, cseId: string) => command('enrolNode', { nodeId, subscriptionId: 'sub-1', cseId }, { actor: operator });
const configure = (associationId: string, nodeId: string, credentialId: string) =>
  command('configureAssociation', { associationId, nodeId, credentialId, registree: { kind: 'cse', id: CSE }, registrarCseId: '/in-cse' }, { actor: operator });
const state = async (c: Credence, kind: 'association' | 'node', id: string) => {
  const { snapshot } = await c.engine.entity(kind, id);
  return [String(snapshot.value), snapshot.context.revocationReason];
};

/** meter-1 associated as sa-1 under /cse-meter-1; then meter-2, the replacement, enrolled under the same CSE-ID. */
const replacementEnrolled = async (): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  for (const x of [
    cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), enrol('meter-1', CSE),
    cmd.issueCredential('cred-1', 'meter-1', at(300)), cmd.provisionCredential('cred-1'),
    configure('sa-1', 'meter-1', 'cred-1'), cmd.establishAssociation('sa-1'),
    enrol('meter-2', CSE),
  ]) await c.engine.execute(x);
  await c.settle();
  return c;
};

describe('a CSE-ID a replacement device enrols under stays the old node\'s too (RS-01)', () => {
  it('the old node keeps its association and may establish a new one under the CSE-ID', async () => {
    const c = await replacementEnrolled();
    expect(await state(c, 'association', 'sa-1')).toEqual(['associated', undefined]);
    for (const x of [configure('sa-2', 'meter-1', 'cred-1'), cmd.establishAssociation('sa-2')]) await c.engine.execute(x);
    await c.settle();
    expect(await state(c, 'association', 'sa-2')).toEqual(['associated', undefined]);
  });

  it('renumbering the old node ends its use of the CSE-ID', async () => {
    const c = await replacementEnrolled();
    await c.engine.execute(enrol('meter-1', '/cse-meter-1-retired'));
    await c.settle();
    expect(await state(c, 'association', 'sa-1')).toEqual(['revoked', 'affiliationChanged']);
    const refused = await rejection(c.engine.execute(configure('sa-3', 'meter-1', 'cred-1')));
    expect(refused.problem).toMatchObject({ code: 'illegal_transition', rule: 'credentialBelongsToRegistree' });
  });

  it('revoking the old node ends its use of the CSE-ID; the replacement keeps it', async () => {
    const c = await replacementEnrolled();
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'superseded' }, { actor: operator }));
    await c.settle();
    expect(await state(c, 'association', 'sa-1')).toEqual(['revoked', 'superseded']);
    expect(await state(c, 'node', 'meter-2')).toEqual(['enrolled', undefined]);
  });
});
