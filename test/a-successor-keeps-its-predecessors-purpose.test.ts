import { describe, expect, it } from 'vitest';
import { admitProvisioningRun } from '../adapters/protocols/procedures/run-admission.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { JsonObject } from '../domain/ports/event-store.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, fixture, footprint, issueCredentialData, rejection, T0, type Fixture } from './support/fleet.ts';

/*
 * Review 238: a rotation changed a credential's purpose. A device named its bootstrap credential as the predecessor of
 * a service credential (remote provisioning), the operator rotated the bootstrap onto it, and the handover revoked the
 * bootstrap as superseded: the node could never be remotely provisioned again (`credential_revoked`). And the reverse:
 * a bootstrap credential issued as the successor of a service one. HLR-212 secure modification replaces a credential
 * with one for the same use: a successor keeps its predecessor's purpose (successorKeepsPurpose, machines v9).
 */
const NEWER_RULE = '(rule since credence:machines:v9: an event stored by an earlier version may break it; see docs/service.md, Upgrading)';

/** meter-1 enrolled under sub-1, with its bootstrap credential `boot` and its service credential `svc` provisioned. */
const fleet = async (): Promise<Fixture> => {
  const f = fixture();
  for (const c of [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(),
    cmd.issueCredential('boot', 'meter-1', at(90), { purpose: 'bootstrap' }), cmd.provisionCredential('boot'),
    cmd.issueCredential('svc', 'meter-1', at(90)), cmd.provisionCredential('svc'),
  ]) await f.engine.execute(c);
  return f;
};

/** What an earlier version stored: `next`, of `purpose`, issued as the successor of `predecessorId`. */
const forgeSuccessor = (f: Fixture, next: string, purpose: string, predecessorId: string) =>
  forge(f.store, `credential-${next}`, 'CredentialIssued', { ...issueCredentialData(next, 'meter-1', { notBefore: T0, notAfter: at(90) }), purpose, predecessorId } as JsonObject, T0);

describe('a successor keeps its predecessor\'s purpose (HLR-212)', () => {
  it.each([
    ['a service credential as the successor of the bootstrap credential', 'service', 'boot', 'bootstrap'],
    ['a bootstrap credential as the successor of a service credential', 'bootstrap', 'svc', 'service'],
  ])('issuing %s is refused naming the rule and both purposes, and nothing is written', async (_name, purpose, predecessorId, predecessorPurpose) => {
    const f = await fleet();
    const before = await footprint(f.store);
    const error = await rejection(f.engine.execute(cmd.issueCredential('next', 'meter-1', at(90), { purpose, predecessorId })));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'absent', attempted: 'CredentialIssued', rule: 'successorKeepsPurpose' });
    expect(error.message).toContain(`credential next has purpose ${purpose}, and its predecessor ${predecessorId} has purpose ${predecessorPurpose}`);
    expect(await footprint(f.store)).toEqual(before);
  });

  it('a successor of the same purpose is issued and rotated onto as before', async () => {
    const f = await fleet();
    await f.engine.execute(cmd.issueCredential('svc2', 'meter-1', at(90), { predecessorId: 'svc' }));
    await f.engine.execute(cmd.provisionCredential('svc2'));
    await f.engine.execute(cmd.startCredentialRotation(at(30), 'svc', 'svc2'));
    expect((await f.engine.entity('credential', 'svc')).snapshot.context).toMatchObject({ successorId: 'svc2' });
  });

  it('a rotation of the bootstrap credential onto a service credential that names it (stored by an earlier version) is refused, and nothing is written', async () => {
    const f = await fleet();
    await forgeSuccessor(f, 'svc4', 'service', 'boot');
    const before = await footprint(f.store);
    const error = await rejection(f.engine.execute(cmd.startCredentialRotation(at(30), 'boot', 'svc4')));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'enrolled', attempted: 'CredentialRotationStarted', rule: 'successorKeepsPurpose' });
    expect(error.message).toContain('credential boot has purpose bootstrap, and its successor svc4 has purpose service');
    expect(await footprint(f.store)).toEqual(before);
    expect((await f.engine.entity('credential', 'boot')).snapshot.context).not.toHaveProperty('successorId', 'svc4');
  });

  it('remote provisioning naming the bootstrap credential as predecessor is refused at admission, field predecessorId', async () => {
    const f = await fleet();
    const refused = await admitProvisioningRun(f.engine, { nodeId: 'meter-1', credentialId: 'svc5', predecessorId: 'boot' }).then(() => undefined, (e: unknown) => e);
    expect(isCredenceError(refused, 'validation')).toBe(true);
    expect((refused as { problem: unknown }).problem).toMatchObject({ code: 'validation', issues: [{ path: 'predecessorId', rule: 'same-purpose' }] });
    // Its service credential qualifies, as before.
    await admitProvisioningRun(f.engine, { nodeId: 'meter-1', credentialId: 'svc5', predecessorId: 'svc' });
  });

  it('replay flags such an issue stored by an earlier version, saying the rule is since v9, and the rotation onto it as following from it', async () => {
    const f = await fleet();
    await forgeSuccessor(f, 'svc4', 'service', 'boot');
    await forge(f.store, 'credential-boot', 'CredentialRotationStarted', { credentialId: 'boot', successorId: 'svc4', overlapEndsAt: at(30) }, T0);
    const { findings } = await replayAll(f.store);
    const issued = findings.find((x) => x.streamId === 'credential-svc4');
    expect(issued).toMatchObject({ type: 'CredentialIssued' });
    expect(issued!.reason).toContain('by rule successorKeepsPurpose');
    expect(issued!.reason.endsWith(NEWER_RULE)).toBe(true);
    // The rotation onto it then finds no recorded successor: a finding that follows from the issue's, not a new one.
    const rotation = findings.find((x) => x.streamId === 'credential-boot' && x.type === 'CredentialRotationStarted');
    expect(rotation?.followsFrom).toMatchObject({ streamId: 'credential-svc4', position: issued!.position });
  });
});
