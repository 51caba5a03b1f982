import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { findingsByNewerRules, replayAll } from '../projections/replay/index.ts';
import { command } from '../domain/commands/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, issueCredentialData, operator, profile, T0 } from './support/fleet.ts';

/*
 * Review 195. Machines v3 refuse a credential issued on its predecessor's key, or its node's factory key (keyIsNew;
 * HLR-212, RS-16). A store written by v2 may hold one, legal then: replay reports it as a finding by a rule newer than
 * the event (RULES_SINCE), not as an event written behind the engine.
 */
const NEWER_RULE = `(rule since credence:machines:v3: an event stored by an earlier version may break it; see docs/service.md, Upgrading)`;

const v2Store = async (reused: 'cred-1' | 'boot-1') => {
  const store = openSqliteStore({ memory: true });
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  const factory = command('issueCredential', { ...issueCredentialData('boot-1', 'meter-1', { notBefore: T0, notAfter: at(90) }), purpose: 'bootstrap' }, { actor: operator });
  const registered = command('registerNode', { nodeId: 'meter-1', profile, bootstrapCredentialId: 'boot-1' }, { actor: operator });
  for (const c of [cmd.createSubscription(), registered, factory, cmd.provisionCredential('boot-1'), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) {
    await engine.execute(c);
  }
  const old = issueCredentialData(reused, 'meter-1', { notBefore: T0, notAfter: at(90) });
  const data = { ...issueCredentialData('cred-2', 'meter-1', { notBefore: T0, notAfter: at(90) }), publicKey: old.publicKey, fingerprint: old.fingerprint };
  await forge(store, 'credential-cred-2', 'CredentialIssued', { ...data, ...(reused === 'cred-1' ? { predecessorId: 'cred-1' } : {}) }, T0);
  return { store, engine, data };
};

describe('a credential v2 stored on a key its node already held', () => {
  it("is a finding by keyIsNew, a rule since v3, for a successor on its predecessor's key", async () => {
    const { store } = await v2Store('cred-1');
    const { findings } = await replayAll(store);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ streamId: 'credential-cred-2', type: 'CredentialIssued' });
    expect(findings[0]!.reason).toContain('by rule keyIsNew');
    expect(findings[0]!.reason.endsWith(NEWER_RULE)).toBe(true);
    expect(findingsByNewerRules(findings)).toBe(1);
  });

  it("is a finding by keyIsNew for a service credential on its node's factory key, which the engine refuses now", async () => {
    const { store, engine, data } = await v2Store('boot-1');
    const { findings } = await replayAll(store);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.reason).toContain('by rule keyIsNew');
    expect(findings[0]!.reason.endsWith(NEWER_RULE)).toBe(true);
    const again = command('issueCredential', { ...data, credentialId: 'cred-3' }, { actor: operator });
    await expect(engine.execute(again)).rejects.toMatchObject({ problem: { code: 'illegal_transition', attempted: 'CredentialIssued', rule: 'keyIsNew' } });
  });
});
