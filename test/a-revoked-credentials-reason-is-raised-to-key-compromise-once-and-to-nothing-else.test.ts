import { describe, expect, it } from 'vitest';
import { at, cmd, fixture, footprint, rejection } from './support/fleet.ts';

/*
 * Review 197 F2: a revocation's reason is never raised. A second `revokeCredential … keyCompromise` on a credential the
 * cascade had revoked as cessationOfOperation got "CredentialRevoked is not allowed in state revoked (final state: it
 * accepts nothing)", which did not say what stands. It is still refused, naming the standing revocation.
 */
describe('a second revocation of a revoked credential', () => {
  it('is refused, naming the reason and instant recorded and that a reason is not changed once recorded, and writes nothing', async () => {
    const { engine, clock, store } = fixture();
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) await engine.execute(c);
    clock.set(new Date(at(5)));
    await engine.execute(cmd.revokeCredential('cred-1', 'cessationOfOperation'));
    clock.set(new Date(at(6)));
    const before = await footprint(store);
    const error = await rejection(engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise')));
    expect(await footprint(store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'revoked', attempted: 'CredentialRevoked', allowed: [] });
    expect(error.message).toContain('final state: it accepts nothing');
    expect(error.message).toContain(`credential cred-1 was revoked as cessationOfOperation at ${at(5)}`);
    expect(error.message).toContain("a revocation's reason is not changed once recorded");
    expect(error.message).toContain('docs/pki.md');
  });
});
