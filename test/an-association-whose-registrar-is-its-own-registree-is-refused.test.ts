import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { fixture, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 165 F6 (seed 003 11.3: a security association is between a Registree and its Registrar CSE, another CSE):
 * configureAssociation accepted node meter-1's own CSE-ID /cse-meter-1 as the Registrar of the Registree /cse-meter-1.
 */
describe('configureAssociation naming the Registree itself as its Registrar CSE (review 165 F6)', () => {
  it('is refused by rule registrarIsNotRegistree, naming registrarCseId, and writes nothing', async () => {
    const { store, engine } = fixture();
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential()]) await engine.execute(x);
    const before = await footprint(store);
    const self = command(
      'configureAssociation',
      { associationId: 'sa-1', nodeId: 'meter-1', credentialId: 'cred-1', registree: { kind: 'cse', id: '/cse-meter-1' }, registrarCseId: '/cse-meter-1' },
      { actor: operator },
    );
    const error = await rejection(engine.execute(self));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', streamId: 'association-sa-1', state: 'absent', attempted: 'AssociationConfigured', rule: 'registrarIsNotRegistree' });
    expect(error.message).toContain('registrarCseId /cse-meter-1');
    expect(await footprint(store)).toEqual(before);
    // Under another Registrar it is configured.
    await engine.execute(cmd.configureAssociation());
    expect((await engine.entity('association', 'sa-1')).snapshot.value).toBe('initialized');
    expect((await replayAll(store)).findings).toEqual([]);
  });
});

describe('an association stored before the rule with its Registree as its Registrar (review 165 F6)', () => {
  it('still loads, so it can be revoked, and replay flags its configuration', async () => {
    const { store, engine } = fixture();
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential()]) await engine.execute(x);
    await forge(store, 'association-sa-1', 'AssociationConfigured', {
      associationId: 'sa-1', nodeId: 'meter-1', credentialId: 'cred-1', registree: { kind: 'cse', id: '/cse-meter-1' }, registrarCseId: '/cse-meter-1',
    }, T0);
    const { findings } = await replayAll(store);
    expect(findings).toEqual([expect.objectContaining({ streamId: 'association-sa-1', reason: expect.stringContaining('registrarIsNotRegistree') })]);
    await engine.execute(cmd.revokeAssociation('sa-1'));
    expect((await engine.entity('association', 'sa-1')).snapshot.value).toBe('revoked');
  });
});
