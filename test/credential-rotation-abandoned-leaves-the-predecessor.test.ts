import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { at, cmd, operator, rejection, T0 } from './support/fleet.ts';
import { forge } from './replay.fixtures.ts';

/*
 * Found in review: the end of a rotation's overlap revoked the predecessor as superseded even when its successor had
 * been revoked meanwhile, or was never provisioned, leaving the node with no credential it holds (and a false CRL
 * reason); the predecessor could never be rotated again. And a rotation was accepted to a successor whose validity
 * did not cover the end of the overlap.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const rotate = (successorId: string, overlapEndsAt: string) =>
  command('startCredentialRotation', { credentialId: 'cred-1', successorId, overlapEndsAt }, { actor: operator });

const open = async (successors: readonly { id: string; provisioned: boolean; notAfter?: string }[]) => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) await c.engine.execute(x);
  for (const s of successors) {
    await c.engine.execute(cmd.issueCredential(s.id, 'meter-1', s.notAfter ?? at(90), { predecessorId: 'cred-1' }));
    if (s.provisioned) await c.engine.execute(cmd.provisionCredential(s.id));
  }
  return { c, clock };
};

const stateOf = async (c: Credence, id: string) => String((await c.engine.entity('credential', id)).snapshot.value);

describe('a rotation whose successor the node does not hold at the end of the overlap', () => {
  it('leaves the predecessor in place when the successor was revoked, and lets it rotate again', async () => {
    const { c, clock } = await open([{ id: 'cred-2', provisioned: true }, { id: 'cred-3', provisioned: true }]);
    await c.engine.execute(rotate('cred-2', at(5)));
    await c.engine.execute(cmd.revokeCredential('cred-2'));
    await c.settle();
    // Rotated again while the first overlap still runs: its successor ended.
    await c.engine.execute(rotate('cred-3', at(8)));
    clock.set(at(6));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
    clock.set(at(9));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('revoked');
    expect((await c.engine.entity('credential', 'cred-1')).snapshot.context).toMatchObject({ revocationReason: 'superseded', successorId: 'cred-3' });
  });

  it('leaves the predecessor in place when the successor was never provisioned, and lets it rotate after the overlap', async () => {
    const { c, clock } = await open([{ id: 'cred-2', provisioned: false }, { id: 'cred-3', provisioned: true }]);
    await c.engine.execute(rotate('cred-2', at(5)));
    await c.settle();
    // While the overlap runs, the rotation stands.
    expect((await rejection(c.engine.execute(rotate('cred-3', at(8))))).problem).toMatchObject({ code: 'illegal_transition', rule: 'successorLinked' });
    clock.set(at(6));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
    await c.engine.execute(rotate('cred-3', at(10)));
    clock.set(at(11));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('revoked');
  });

  it('lets the predecessor rotate again to the same successor once that is provisioned after the overlap', async () => {
    // Found in review: the successor provisioned a moment after the overlap ended left the predecessor valid for good.
    const { c, clock } = await open([{ id: 'cred-2', provisioned: false }]);
    await c.engine.execute(rotate('cred-2', at(5)));
    await c.settle();
    clock.set(at(6));
    await c.tick();
    await c.engine.execute(cmd.provisionCredential('cred-2'));
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
    await c.engine.execute(rotate('cred-2', at(9)));
    clock.set(at(10));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('revoked');
  });

  it('decides from recorded history: a rebuilt deadline of an abandoned rotation revokes nothing (found in review)', async () => {
    const { c, clock } = await open([{ id: 'cred-2', provisioned: false }]);
    await c.engine.execute(rotate('cred-2', at(5)));
    await c.settle();
    clock.set(at(6));
    await c.tick();
    await c.engine.execute(cmd.provisionCredential('cred-2'));
    await c.runner.rebuild('expiry');
    clock.set(at(7));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
  });

  it('refuses another rotation between the end of an overlap whose successor was held and the scheduler acting on it', async () => {
    // Found in review: "the overlap ended and the predecessor is live" was taken for an abandoned rotation.
    const { c, clock } = await open([{ id: 'cred-2', provisioned: true }, { id: 'cred-3', provisioned: true }]);
    await c.engine.execute(rotate('cred-2', at(5)));
    clock.set(new Date(Date.parse(at(5)) + 1).toISOString());
    expect((await rejection(c.engine.execute(rotate('cred-3', at(30))))).problem).toMatchObject({ code: 'illegal_transition', rule: 'successorLinked' });
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('revoked');
  });

  it('revokes the predecessor whose successor was superseded in turn by a successor of its own', async () => {
    // Found in review: the chain's middle credential, revoked as superseded, counted as an abandoned rotation.
    const { c, clock } = await open([{ id: 'cred-2', provisioned: true }]);
    await c.engine.execute(cmd.issueCredential('cred-3', 'meter-1', at(90), { predecessorId: 'cred-2' }));
    await c.engine.execute(cmd.provisionCredential('cred-3'));
    await c.engine.execute(rotate('cred-2', at(10)));
    await c.engine.execute(command('startCredentialRotation', { credentialId: 'cred-2', successorId: 'cred-3', overlapEndsAt: at(5) }, { actor: operator }));
    await c.settle();
    clock.set(at(6));
    await c.tick();
    expect(await stateOf(c, 'cred-2')).toBe('revoked');
    clock.set(at(11));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('revoked');
  });

  it('does not act on the deadline of an earlier rotation the read model still holds (found in review: revoked early)', async () => {
    const { c, clock } = await open([{ id: 'cred-2', provisioned: true }, { id: 'cred-3', provisioned: true }]);
    await c.engine.execute(rotate('cred-2', at(5)));
    await c.engine.execute(cmd.revokeCredential('cred-2'));
    await c.settle();
    clock.set(at(5));
    // Rotated again, and the scheduler runs before the read model has the new overlap's deadline.
    await c.engine.execute(rotate('cred-3', at(8)));
    await c.scheduler.tick();
    expect(await stateOf(c, 'cred-1')).toBe('enrolled');
    await c.settle();
    clock.set(at(9));
    await c.tick();
    expect(await stateOf(c, 'cred-1')).toBe('revoked');
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

  it('is refused at the start when the successor expires before the overlap ends', async () => {
    const { c } = await open([{ id: 'cred-2', provisioned: true, notAfter: at(5) }]);
    const refused = await rejection(c.engine.execute(rotate('cred-2', at(60))));
    expect(refused.problem).toMatchObject({ code: 'illegal_transition', rule: 'successorLinked' });
    expect((await c.store.readStream('credential-cred-1')).map((e) => e.type)).toEqual(['CredentialIssued', 'CredentialProvisioned']);
  });
});
