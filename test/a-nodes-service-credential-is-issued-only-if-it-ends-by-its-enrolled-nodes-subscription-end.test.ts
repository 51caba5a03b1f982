import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, issueCredentialData, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 205 (seed 003 11.2.1; endsWithinSubscription, v4). Only provisioning judged a node's service credential by
 * its subscription's end: an operator issued pump-1-service past it (accepted), its provisioning was refused, and the
 * advised re-issue on the device's key was refused by keyNeverCertified: the key was burned by a credential never put
 * into service. Issuing for a node enrolled under a subscription now judges the same rule, and writes nothing.
 */

const engineAt = () => {
  const store = openSqliteStore({ memory: true });
  return { store, engine: createEngine({ store, clock: new FakeClock(T0) }) };
};

/** meter-1's service credential `id` on the device's one key (cred-1's placeholder key), valid to `notAfter`. */
const issueOnDeviceKey = (id: string, notAfter: string) =>
  command('issueCredential', { ...issueCredentialData('cred-1', 'meter-1', { notBefore: T0, notAfter }), credentialId: id }, { actor: operator });

describe("a node's service credential is issued only if it ends by the end of its enrolled node's subscription", () => {
  it('refuses an issue past the end, naming both instants, writes nothing, and leaves the key free for an issue within it', async () => {
    const { store, engine } = engineAt();
    for (const c of [cmd.createSubscription('sub-1', at(1)), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(c);
    const before = await footprint(store);
    const error = await rejection(engine.execute(issueOnDeviceKey('cred-1', at(3))));
    expect(await footprint(store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', attempted: 'CredentialIssued', rule: 'endsWithinSubscription' });
    expect(error.message).toContain(`notAfter ${at(3)}`);
    expect(error.message).toContain(`subscription sub-1 ends at ${at(1)}`);
    expect(error.message).toContain(`issue it with notAfter at or before ${at(1)}`);
    // Nothing was certified: the device's key is issued again, cut to the end, under another id too.
    await engine.execute(issueOnDeviceKey('cred-2', at(1)));
    await engine.execute(cmd.provisionCredential('cred-2'));
    expect(String((await engine.entity('credential', 'cred-2')).snapshot.value)).toBe('enrolled');
  });

  it('issues for a node not yet enrolled, and judges it at provisioning, advising a revocation and a new key', async () => {
    const { store, engine } = engineAt();
    await engine.execute(cmd.registerNode());
    await engine.execute(issueOnDeviceKey('cred-1', at(3)));
    for (const c of [cmd.createSubscription('sub-1', at(1)), cmd.enrolNode()]) await engine.execute(c);
    const before = await footprint(store);
    const error = await rejection(engine.execute(cmd.provisionCredential('cred-1')));
    expect(await footprint(store)).toEqual(before);
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'CredentialProvisioned', rule: 'endsWithinSubscription' });
    expect(error.message).toContain(`subscription sub-1 ends at ${at(1)}`);
    expect(error.message).toContain('revoke cred-1 and issue a successor on a new key');
    // The advice holds: the issued key is taken (keyNeverCertified).
    expect((await rejection(engine.execute(issueOnDeviceKey('cred-2', at(1))))).problem).toMatchObject({ rule: 'keyNeverCertified' });
  });

  it('is flagged by replay in a history stored before the rule, as a finding by a rule newer than the event', async () => {
    const { store, engine } = engineAt();
    for (const c of [cmd.createSubscription('sub-1', at(1)), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(c);
    // What v3 stored: issued past the subscription's end for an enrolled node.
    await forge(store, 'credential-cred-1', 'CredentialIssued', issueCredentialData('cred-1', 'meter-1', { notBefore: T0, notAfter: at(3) }), T0);
    const { findings } = await replayAll(store);
    expect(findings.map((f) => [f.streamId, f.type, f.rule, f.ruleSince])).toEqual([
      ['credential-cred-1', 'CredentialIssued', 'endsWithinSubscription', 'credence:machines:v4'],
    ]);
    expect(findings[0]!.reason).toContain('(rule since credence:machines:v4: an event stored by an earlier version may break it');
  });
});
