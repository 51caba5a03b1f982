import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, rejection, T0 } from './support/fleet.ts';

/*
 * Review 221 (machines v6): a rotation whose overlap ended before its predecessor's notBefore was accepted; there was
 * no overlap at all, and the handover revoked the predecessor as superseded with an invalidity date before its
 * validity began. A rule of its own, `overlapEndsAfterNotBefore`, now requires the overlap to end after the predecessor's
 * notBefore; replay names it, and it alone, as newer than the events an earlier version stored (review 222).
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** cred-1 valid from at(10) to at(30), provisioned; cred-2, its successor valid from T0 to at(60), provisioned. */
const open = async () => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  for (const x of [
    cmd.createSubscription(),
    cmd.registerNode(),
    cmd.enrolNode(),
    cmd.issueCredential('cred-1', 'meter-1', at(30), { notBefore: at(10) }),
    cmd.provisionCredential('cred-1'),
    cmd.issueCredential('cred-2', 'meter-1', at(60), { predecessorId: 'cred-1' }),
    cmd.provisionCredential('cred-2'),
  ]) {
    await c.engine.execute(x);
  }
  return c;
};

describe("a rotation's overlap ends after its predecessor becomes valid", () => {
  it.each([at(5), at(10)])('refuses an overlap ending at %s, at or before the notBefore, naming it and writing nothing', async (overlapEndsAt) => {
    const c = await open();
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(cmd.startCredentialRotation(overlapEndsAt)));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', attempted: 'CredentialRotationStarted', rule: 'overlapEndsAfterNotBefore' });
    expect(error.message).toContain(`the overlap of credential cred-1 ends at ${overlapEndsAt}, not after its notBefore 2026-01-11T00:00:00.000Z`);
    expect(await footprint(c.store)).toEqual(before);
  });

  it('starts one ending inside the predecessor’s validity', async () => {
    const c = await open();
    await c.engine.execute(cmd.startCredentialRotation(at(12)));
    expect((await c.engine.entity('credential', 'cred-1')).snapshot.context).toMatchObject({ successorId: 'cred-2', overlapEndsAt: Date.parse(at(12)) });
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('replay flags a stored one, said as a rule newer than the event', async () => {
    const c = await open();
    const forged = await forge(c.store, 'credential-cred-1', 'CredentialRotationStarted', { credentialId: 'cred-1', successorId: 'cred-2', overlapEndsAt: at(5) }, T0);
    const findings = (await replayAll(c.store)).findings;
    expect(findings.map((f) => f.position)).toEqual([forged.position]);
    expect(findings[0]!.reason).toContain('by rule overlapEndsAfterNotBefore');
    expect(findings[0]!.reason).toContain('(rule since credence:machines:v6');
  });

  it('replay does not call an older rule newer: a rotation successorLinked refuses is named without the v6 note', async () => {
    const c = await open();
    const forged = await forge(c.store, 'credential-cred-1', 'CredentialRotationStarted', { credentialId: 'cred-1', successorId: 'cred-9', overlapEndsAt: at(12) }, T0);
    const findings = (await replayAll(c.store)).findings;
    expect(findings.map((f) => f.position)).toEqual([forged.position]);
    expect(findings[0]!.reason).toContain('by rule successorLinked');
    expect(findings[0]!.reason).not.toContain('rule since');
  });
});
