import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Found in review: the end of a rotation's overlap revoked the predecessor as superseded even when its successor had
 * been revoked meanwhile, or was never provisioned, leaving the node with no credential it holds (and a false CRL
 * reason); and the predecessor could never be rotated again. Now the rotation is abandoned (`CredentialRotationAbandoned`,
 * recorded, decided by the credential's machine against the successor at the commit): the predecessor stays and may
 * rotate again. An operator may abandon a rotation too, while the node does not hold its successor.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const rotate = (successorId: string, overlapEndsAt: string, credentialId = 'cred-1') =>
  command('startCredentialRotation', { credentialId, successorId, overlapEndsAt }, { actor: operator });
const abandon = (successorId: string, credentialId = 'cred-1') =>
  command('abandonCredentialRotation', { credentialId, successorId }, { actor: operator });

const open = async (successors: readonly { id: string; provisioned: boolean; predecessor?: string }[]) => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) await c.engine.execute(x);
  for (const s of successors) {
    await c.engine.execute(cmd.issueCredential(s.id, 'meter-1', at(90), { predecessorId: s.predecessor ?? 'cred-1' }));
    if (s.provisioned) await c.engine.execute(cmd.provisionCredential(s.id));
  }
  return { c, clock };
};

const stateOf = async (c: Credence, id: string) => String((await c.engine.entity('credential', id)).snapshot.value);
const typesOf = async (c: Credence, id: string) => (await c.store.readStream(`credential-${id}`)).map((e) => e.type);

describe('a rotation whose successor the node does not hold at the end of the overlap', () => {
  it('is abandoned when the successor was revoked: the predecessor stays, and rotates again', async () => {
    const { c, clock } = await open([{ id: 'cred-2', provisioned: true }, { id: 'cred-3', provisioned: true }]);
    await c.engine.execute(rotate('cred-2', at(5)));
    await c.engine.execute(cmd.revokeCredential('cred-2'));
    await c.settle();
    clock.set(at(6));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
    expect((await typesOf(c, 'cred-1')).at(-1)).toBe('CredentialRotationAbandoned');
    await c.engine.execute(rotate('cred-3', at(8)));
    clock.set(at(9));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('revoked');
    expect((await c.engine.entity('credential', 'cred-1')).snapshot.context).toMatchObject({ revocationReason: 'superseded', successorId: 'cred-3' });
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('is abandoned when the successor was never provisioned, and the predecessor rotates again to it once it is', async () => {
    const { c, clock } = await open([{ id: 'cred-2', provisioned: false }]);
    await c.engine.execute(rotate('cred-2', at(5)));
    await c.settle();
    clock.set(at(6));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
    await c.engine.execute(cmd.provisionCredential('cred-2'));
    // Recorded, so a rebuilt deadline read model holds no deadline for it (found in review: revoked at once).
    await c.runner.rebuild('expiry');
    clock.set(at(7));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
    await c.engine.execute(rotate('cred-2', at(9)));
    clock.set(at(10));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('revoked');
  });

  it('is not abandoned, nor rotated again, while the node holds the successor: the end of the overlap revokes the predecessor', async () => {
    const { c, clock } = await open([{ id: 'cred-2', provisioned: true }, { id: 'cred-3', provisioned: true }]);
    await c.engine.execute(rotate('cred-2', at(5)));
    expect((await rejection(c.engine.execute(abandon('cred-2')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'rotationAbandonable' });
    clock.set(new Date(Date.parse(at(5)) + 1).toISOString());
    expect((await rejection(c.engine.execute(rotate('cred-3', at(30))))).problem).toMatchObject({ code: 'illegal_transition', rule: 'successorLinked' });
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('revoked');
  });

  it('may be abandoned by an operator before the overlap ends, and the deadline goes with it', async () => {
    const { c, clock } = await open([{ id: 'cred-2', provisioned: false }, { id: 'cred-3', provisioned: true }]);
    await c.engine.execute(rotate('cred-2', at(5)));
    await c.engine.execute(abandon('cred-2'));
    await c.engine.execute(rotate('cred-3', at(8)));
    // The scheduler runs before the read model has the new overlap's deadline: the old one is not acted on.
    clock.set(at(5));
    await c.scheduler.tick();
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
    await c.settle();
    clock.set(at(6));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
    clock.set(at(9));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('revoked');
  });

  it('revokes the predecessor whose successor was superseded in turn by one the node holds; an operator may not abandon it then', async () => {
    const { c, clock } = await open([{ id: 'cred-2', provisioned: true }, { id: 'cred-3', provisioned: true, predecessor: 'cred-2' }]);
    await c.engine.execute(rotate('cred-2', at(10)));
    await c.engine.execute(rotate('cred-3', at(5), 'cred-2'));
    await c.settle();
    clock.set(at(6));
    await c.tick();
    expect(await stateOf(c, 'cred-2')).toBe('revoked');
    // Found in review: the guard saw only the direct successor, revoked, and let the rotation go.
    expect((await rejection(c.engine.execute(abandon('cred-2')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'rotationAbandonable' });
    clock.set(at(11));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('revoked');
  });

  it('may rotate again once the successor it named ended, whatever its chain did (found in review: stuck for good)', async () => {
    // cred-2 handed over to cred-3, which was then revoked: the end of cred-1's overlap can neither revoke it nor
    // abandon its rotation, and it must not be left unable to rotate.
    const { c, clock } = await open([
      { id: 'cred-2', provisioned: true }, { id: 'cred-3', provisioned: true, predecessor: 'cred-2' }, { id: 'cred-4', provisioned: true },
    ]);
    await c.engine.execute(rotate('cred-2', at(10)));
    await c.engine.execute(rotate('cred-3', at(5), 'cred-2'));
    await c.settle();
    clock.set(at(6));
    await c.tick();
    clock.set(at(7));
    await c.engine.execute(cmd.revokeCredential('cred-3'));
    await c.settle();
    clock.set(at(11));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
    await c.engine.execute(rotate('cred-4', at(15)));
    clock.set(at(16));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('revoked');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('is never started when the successor is not valid yet at the end of the overlap (found in review: revoked, the node left with nothing valid)', async () => {
    // Review 26: such a rotation was started, then abandoned at the end of its overlap; `successorLinked` now refuses
    // it at its start (the end of the overlap must lie in the successor's validity window), and the predecessor stays.
    const clock = new FakeClock(T0);
    const c = (credence = openCredence({ location: { memory: true }, clock }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) await c.engine.execute(x);
    await c.engine.execute(command('issueCredential', { ...cmd.issueCredential('cred-2', 'meter-1', at(90), { predecessorId: 'cred-1' }).data, notBefore: at(20) }, { actor: operator }));
    await c.engine.execute(cmd.provisionCredential('cred-2'));
    expect((await rejection(c.engine.execute(rotate('cred-2', at(5))))).problem).toMatchObject({ code: 'illegal_transition', rule: 'successorLinked' });
    await c.settle();
    clock.set(at(6));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
    expect(await typesOf(c, 'cred-1')).not.toContain('CredentialRotationStarted');
  });

  it('is abandoned when the successor was merely revoked with the reason superseded (no rotation of its own)', async () => {
    // Found in review: any "superseded" revocation of the successor counted as held, and the node lost both.
    const { c, clock } = await open([{ id: 'cred-2', provisioned: true }]);
    await c.engine.execute(rotate('cred-2', at(5)));
    await c.engine.execute(cmd.revokeCredential('cred-2', 'superseded'));
    await c.settle();
    clock.set(at(6));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
  });

  it('goes on to the later deadlines when the successor has a broken history (found in review: the tick stopped there)', async () => {
    const { c, clock } = await open([{ id: 'cred-2', provisioned: true }]);
    await c.engine.execute(rotate('cred-2', at(5)));
    await c.engine.execute(cmd.registerNode('meter-2'));
    await c.engine.execute(cmd.enrolNode('meter-2'));
    await c.engine.execute(cmd.issueCredential('cred-9', 'meter-2', at(7)));
    await forge(c.store, 'credential-cred-2', 'CredentialProvisioned', { credentialId: 'cred-2', method: 'pre-provisioning' }, at(1));
    await c.settle();
    clock.set(at(8));
    await expect(c.scheduler.tick()).rejects.toThrow(/could not be handled and are kept for the next tick/);
    expect(await stateOf(c, 'cred-9')).toBe('expired');
  });
});
