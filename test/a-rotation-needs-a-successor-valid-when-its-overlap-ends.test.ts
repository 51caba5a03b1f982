import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, rejection, T0 } from './support/fleet.ts';

/*
 * HLR-212, found in adversarial review 26: a rotation hands over to its successor when the overlap ends, yet one whose
 * successor ended before the overlap did (or started after it) was accepted, and later abandoned without a word since
 * the node did not hold the successor then. `successorLinked` now requires the end of the overlap inside the
 * successor's validity window: successor.notBefore <= overlapEndsAt < successor.notAfter.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** meter-1 enrolled; cred-1 (to at(90)) provisioned; cred-2, its successor valid from `notBefore` to `notAfter`, provisioned. */
const open = async (notAfter: string, notBefore = T0) => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) {
    await c.engine.execute(x);
  }
  await c.engine.execute(cmd.issueCredential('cred-2', 'meter-1', notAfter, { predecessorId: 'cred-1', notBefore }));
  await c.engine.execute(cmd.provisionCredential('cred-2'));
  return { c, clock };
};

const refused = async (c: Credence, overlapEndsAt: string) => {
  const before = await footprint(c.store);
  const error = await rejection(c.engine.execute(cmd.startCredentialRotation(overlapEndsAt)));
  expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'enrolled', attempted: 'CredentialRotationStarted', rule: 'successorLinked' });
  expect(await footprint(c.store)).toEqual(before);
  expect((await c.engine.entity('credential', 'cred-1')).snapshot.context.successorId).toBeUndefined();
};

describe('a rotation needs a successor valid when its overlap ends (HLR-212)', () => {
  it('refuses one whose successor ends before the overlap does, writing nothing', async () => {
    const { c } = await open(at(20));
    await refused(c, at(30));
  });

  it('refuses one whose overlap ends at the successor\'s notAfter', async () => {
    const { c } = await open(at(20));
    await refused(c, at(20));
  });

  it('refuses one whose successor starts after the overlap ends', async () => {
    const { c } = await open(at(90), at(40));
    await refused(c, at(30));
  });

  it('starts one whose overlap ends inside the successor\'s window, the bounds included as [notBefore, notAfter)', async () => {
    const { c } = await open(at(60), at(30));
    await c.engine.execute(cmd.startCredentialRotation(at(30)));
    expect((await c.engine.entity('credential', 'cred-1')).snapshot.context).toMatchObject({ successorId: 'cred-2', overlapEndsAt: Date.parse(at(30)) });
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('replay flags a stored rotation whose successor ends before the overlap does', async () => {
    const { c } = await open(at(20));
    const forged = await forge(c.store, 'credential-cred-1', 'CredentialRotationStarted', { credentialId: 'cred-1', successorId: 'cred-2', overlapEndsAt: at(30) }, T0);
    const reason = expect.stringMatching(
      /^CredentialRotationStarted refused in state enrolled by rule successorLinked: a rotation of credential cred-1 .*; successor cred-2 is valid from .* to 2026-01-21T00:00:00\.000Z, which does not hold the end of the overlap 2026-01-31T00:00:00\.000Z$/,
    );
    expect((await replayAll(c.store)).findings.map((f) => [f.position, f.reason])).toEqual([[forged.position, reason]]);
    expect((await replayEntity(c.store, 'credential-cred-1')).verdict).toEqual({
      ok: false, findings: [expect.objectContaining({ position: forged.position, reason: expect.stringContaining('successorLinked') })],
    });
  });
});
