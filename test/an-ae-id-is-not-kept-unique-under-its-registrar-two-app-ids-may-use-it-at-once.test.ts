import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';

/*
 * Seed 003 11.3.2 (the Registrar CSE determines the AE-ID), review 165 (F4): pins what docs/service.md says. Credence
 * does not keep a C-prefixed AE-ID unique under its registrar: the Registrar CSE that allocates AE-IDs must. Two
 * App-IDs configure and establish the same AE-ID under the same registrar at once, on two nodes.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const application = (appId: string) => [
  command('registerApplication', { appId, name: appId, provider: 'City Utilities' }, { actor: operator }),
  cmd.issueCredential(`${appId}-cred`, appId, at(300), { purpose: 'application', owner: { kind: 'app', id: appId } }),
  cmd.provisionCredential(`${appId}-cred`),
  command('enrolApplication', { appId, credentialId: `${appId}-cred` }, { actor: operator }),
];
const aeAssociation = (associationId: string, nodeId: string, appId: string) =>
  command(
    'configureAssociation',
    { associationId, nodeId, credentialId: `${appId}-cred`, registree: { kind: 'ae', id: 'Cx', appId }, registrarCseId: '/in-cse' },
    { actor: operator },
  );

describe('an AE-ID under one registrar', () => {
  it('is configured and established by two App-IDs at once, on two nodes, kept apart by App-ID', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [
      cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-1'), cmd.enrolNode('meter-2'),
      ...application('RA'), ...application('RB'),
      aeAssociation('sa-a', 'meter-1', 'RA'), cmd.establishAssociation('sa-a'),
      aeAssociation('sa-b', 'meter-2', 'RB'), cmd.establishAssociation('sa-b'),
    ]) await c.engine.execute(x);
    await c.settle();
    const state = async (id: string) => String((await c.engine.entity('association', id)).snapshot.value);
    for (const id of ['sa-a', 'sa-b']) expect(await state(id)).toBe('associated');

    // Told apart by App-ID: revoking RA ends RA's AE only.
    await c.engine.execute(command('revokeApplication', { appId: 'RA', reason: 'privilegeWithdrawn' }, { actor: operator }));
    await c.settle();
    expect([await state('sa-a'), await state('sa-b')]).toEqual(['revoked', 'associated']);
  });
});
