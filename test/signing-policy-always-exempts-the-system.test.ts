import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { parseRequestSigningPolicy } from '../domain/signing/index.ts';
import { cmd, establishMeter, operator, T0 } from './support/fleet.ts';

/*
 * Found in review: a signing policy's exemptRoles replaced the default ['system'] instead of adding to it, so a valid
 * policy such as { require: [revokeCredential, revokeAssociation], exemptRoles: ['auditor'] } made every cascade
 * command unsigned and refused: the cascade stopped at the first revocation and every later one queued behind it.
 * The system role is now always exempt.
 */
describe('a request-signing policy', () => {
  it('exempts the system role whatever roles it lists', () => {
    expect(parseRequestSigningPolicy({ audience: 'credence:test', exemptRoles: ['auditor'] }).exemptRoles).toEqual(['system', 'auditor']);
    expect(parseRequestSigningPolicy({ audience: 'credence:test' }).exemptRoles).toEqual(['system']);
  });

  it('lets the cascade revoke what depends on a revoked node though its commands must be signed', async () => {
    const c = openCredence({
      location: { memory: true },
      clock: new FakeClock(T0),
      signing: { audience: 'credence:test', require: ['revokeCredential', 'revokeAssociation'], exemptRoles: ['auditor'] },
    });
    await c.engine.execute(cmd.createSubscription());
    await c.engine.execute(cmd.registerNode('meter-1'));
    await establishMeter(c.engine, 1);
    await c.settle();
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    expect(String((await c.engine.entity('credential', 'cred-1')).snapshot.value)).toBe('revoked');
    expect(String((await c.engine.entity('association', 'sa-1')).snapshot.value)).toBe('revoked');
    await c.close();
  });
});
