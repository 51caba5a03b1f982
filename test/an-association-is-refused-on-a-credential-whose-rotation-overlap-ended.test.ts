import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, rejection, T0 } from './support/fleet.ts';

/*
 * HLR-212, found in adversarial review 26: a rotation hands over to its successor when its overlap ends, yet new
 * associations on the predecessor were configured and established after that instant, until the expiry scheduler
 * revoked it as superseded (never, if the scheduler is not running). `credentialUsableAt` now refuses a credential
 * whose rotation's overlap has ended (rule credentialUsable); the predecessor's own context holds overlapEndsAt, so no
 * new fact is read. When the rotation is abandoned instead (the node does not hold the successor), it is usable again.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** meter-1 enrolled; cred-1 (to at(90)) provisioned; cred-2 its successor (to at(90)), provisioned when `held`; a rotation to at(5). */
const open = async (held = true) => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) {
    await c.engine.execute(x);
  }
  await c.engine.execute(cmd.issueCredential('cred-2', 'meter-1', at(90), { predecessorId: 'cred-1' }));
  if (held) await c.engine.execute(cmd.provisionCredential('cred-2'));
  await c.engine.execute(cmd.startCredentialRotation(at(5)));
  await c.settle();
  return { c, clock };
};

const refused = async (c: Credence, pending: Promise<unknown>, state: string, attempted: string) => {
  const before = await footprint(c.store);
  expect((await rejection(pending)).problem).toMatchObject({ code: 'illegal_transition', state, attempted, rule: 'credentialUsable' });
  expect(await footprint(c.store)).toEqual(before);
};

describe("no new association on a credential whose rotation's overlap has ended (HLR-212)", () => {
  it('refuses to configure one at the end of the overlap, before the scheduler revoked the predecessor, writing nothing', async () => {
    const { c, clock } = await open();
    clock.set(at(5));
    expect((await c.engine.entity('credential', 'cred-1')).snapshot.value).toBe('enrolled');
    await refused(c, c.engine.execute(cmd.configureAssociation('sa-1', 'cred-1')), 'absent', 'AssociationConfigured');
    // The successor is the one to associate on.
    await c.engine.execute(cmd.configureAssociation('sa-2', 'cred-2'));
  });

  it('refuses to establish one configured during the overlap, writing nothing', async () => {
    const { c, clock } = await open();
    clock.set(new Date(Date.parse(at(5)) - 1));
    await c.engine.execute(cmd.configureAssociation('sa-1', 'cred-1'));
    clock.set(at(5));
    await refused(c, c.engine.execute(cmd.establishAssociation('sa-1', at(30))), 'initialized', 'AssociationEstablished');
  });

  it('takes one on the predecessor again once its rotation was abandoned (the node did not hold the successor)', async () => {
    const { c, clock } = await open(false);
    clock.set(at(5));
    await refused(c, c.engine.execute(cmd.configureAssociation('sa-1', 'cred-1')), 'absent', 'AssociationConfigured');
    clock.set(at(6));
    await c.tick();
    expect((await c.store.readStream('credential-cred-1')).map((e) => e.type).at(-1)).toBe('CredentialRotationAbandoned');
    await c.engine.execute(cmd.configureAssociation('sa-1', 'cred-1'));
    await c.engine.execute(cmd.establishAssociation('sa-1', at(30)));
    expect((await c.engine.entity('association', 'sa-1')).snapshot.value).toBe('associated');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('replay flags a stored configuration on the predecessor at the end of the overlap', async () => {
    const { c } = await open();
    const forged = await forge(c.store, 'association-sa-1', 'AssociationConfigured', {
      associationId: 'sa-1', nodeId: 'meter-1', credentialId: 'cred-1', registree: { kind: 'cse', id: '/cse-meter-1' }, registrarCseId: '/in-cse',
    }, at(5));
    const reason = expect.stringMatching(
      /^AssociationConfigured refused in state absent by rule credentialUsable: association sa-1 .*; credential cred-1 is past the end of its rotation's overlap at 2026-01-06T00:00:00\.000Z$/,
    );
    expect((await replayAll(c.store)).findings.map((f) => [f.position, f.reason])).toEqual([[forged.position, reason]]);
    expect((await replayEntity(c.store, 'association-sa-1')).verdict).toEqual({
      ok: false, findings: [expect.objectContaining({ position: forged.position, reason: expect.stringContaining('credentialUsable') })],
    });
  });
});
