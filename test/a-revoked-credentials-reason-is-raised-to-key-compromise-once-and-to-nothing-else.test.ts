import { describe, expect, it } from 'vitest';
import { replayAll } from '../projections/replay/index.ts';
import { command } from '../domain/commands/index.ts';
import { at, cmd, fixture, footprint, operator, rejection } from './support/fleet.ts';

/*
 * A revoked credential's key found compromised later: relying parties act on keyCompromise alone (they distrust what
 * the key signed before), so its reason is raised to keyCompromise, once (RFC 5280 5.3.1; CA/Browser Forum BR 4.9.1.1,
 * 7.2.2). Any other second revocation is refused naming the revocation that stands (review 197 F2), and writes nothing.
 */
const revokedAsCessation = async () => {
  const f = fixture();
  for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) await f.engine.execute(c);
  f.clock.set(new Date(at(5)));
  await f.engine.execute(cmd.revokeCredential('cred-1', 'cessationOfOperation'));
  f.clock.set(new Date(at(6)));
  return f;
};

describe("a revoked credential's reason", () => {
  it('is raised to keyCompromise: the credential stays revoked, ended at its first revocation, and replay accepts it', async () => {
    const { engine, store } = await revokedAsCessation();
    const outcome = await engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise'));
    expect(outcome.events.map((e) => e.type)).toEqual(['CredentialRevoked']);
    const view = await engine.view('credential', 'cred-1');
    expect(view.state).toBe('revoked');
    expect(view.context).toMatchObject({ revocationReason: 'keyCompromise', endedAt: Date.parse(at(5)) });
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it.each(['superseded', 'unspecified', 'cessationOfOperation', 'affiliationChanged'] as const)(
    'is not changed to %s: refused naming the reason and instant that stand, nothing written',
    async (reason) => {
      const { engine, store } = await revokedAsCessation();
      const before = await footprint(store);
      const error = await rejection(engine.execute(cmd.revokeCredential('cred-1', reason)));
      expect(await footprint(store)).toEqual(before);
      expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'revoked', attempted: 'CredentialRevoked', rule: 'raisesToKeyCompromise' });
      expect(error.message).toContain(`credential cred-1 was revoked as cessationOfOperation at ${at(5)}`);
      expect(error.message).toContain("a revocation's reason is changed only by raising it to keyCompromise, once");
      expect(error.message).toContain('docs/pki.md');
    },
  );

  it('is raised once: a second keyCompromise is refused, nothing written', async () => {
    const { engine, store } = await revokedAsCessation();
    await engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise'));
    const before = await footprint(store);
    const error = await rejection(engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise')));
    expect(await footprint(store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', rule: 'raisesToKeyCompromise' });
    expect(error.message).toContain(`credential cred-1 was revoked as keyCompromise at ${at(5)}, and no reason is raised past keyCompromise`);
  });

  it('of a credential revoked as keyCompromise from the start is not raised again', async () => {
    const { engine, clock, store } = fixture();
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) await engine.execute(c);
    clock.set(new Date(at(5)));
    await engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise'));
    const before = await footprint(store);
    await rejection(engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise')));
    expect(await footprint(store)).toEqual(before);
  });

  it('is not raised past the credential\'s notAfter, saying what stays published, nothing written', async () => {
    const { engine, clock, store } = await revokedAsCessation();
    clock.set(new Date(at(90)));
    const before = await footprint(store);
    const error = await rejection(engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise')));
    expect(await footprint(store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'revoked', rule: 'raisesToKeyCompromise' });
    expect(error.message).toContain(`its validity ended at ${at(90)}: a reason is raised only within the validity`);
    expect(error.message).toContain('its CRL entry and OCSP answer keep the reason they have until they leave them');
  });

  it('of an expired credential is not raised: an expired credential takes no revocation', async () => {
    const { engine, clock, store } = fixture();
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) await engine.execute(c);
    clock.set(new Date(at(90)));
    await engine.execute(command('expireCredential', { credentialId: 'cred-1' }, { actor: operator }));
    const before = await footprint(store);
    const error = await rejection(engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise')));
    expect(await footprint(store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'expired', allowed: [] });
  });
});
