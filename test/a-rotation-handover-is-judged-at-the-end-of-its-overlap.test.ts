import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, rejection, rotateOne, T0 } from './support/fleet.ts';

/*
 * HLR-212 (seed 000: secure modification of credentials), found in adversarial review 31: the handover at the end of a
 * rotation's overlap was judged whenever the expiry scheduler got to it. A successor the node held at the end of the
 * overlap and revoked after it, before the tick, got the rotation abandoned, and the predecessor (refused from the end
 * of the overlap, `credentialUsable`) took associations again; an operator's abandonment after the overlap revived it
 * the same way. The handover is now judged at overlapEndsAt, by the scheduler and by the credential's guards alike
 * (`handedOver`, `rotationAbandonable`), from when the successor was provisioned and when it ended (its context).
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** meter-1 with cred-1 provisioned and sa-1 established on it; cred-2 its successor, provisioned; the overlap ends at(30). */
const rotating = async () => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  await rotateOne(c.engine);
  await c.settle();
  return { c, clock };
};

const abandon = () => command('abandonCredentialRotation', { credentialId: 'cred-1', successorId: 'cred-2' }, { actor: operator });
const stateOf = async (c: Credence, kind: 'credential' | 'association', id: string) => String((await c.engine.entity(kind, id)).snapshot.value);
const typesOf = async (c: Credence, stream: string) => (await c.store.readStream(stream)).map((e) => e.type);

/** Refused by `rule`, and nothing written. */
const refused = async (c: Credence, pending: Promise<unknown>, rule: string) => {
  const before = await footprint(c.store);
  expect((await rejection(pending)).problem).toMatchObject({ code: 'illegal_transition', rule });
  expect(await footprint(c.store)).toEqual(before);
};

describe('a successor held at the end of the overlap, revoked after it, before the scheduler ticked (HLR-212, review 31)', () => {
  it('supersedes the predecessor at the end of the overlap: revoked as superseded, and no association is taken on it', async () => {
    const { c, clock } = await rotating();
    // Given the end of the overlap passed with the node holding cred-2, and no tick.
    clock.set(at(31));
    await refused(c, c.engine.execute(cmd.configureAssociation('sa-2', 'cred-1')), 'credentialUsable');
    // When cred-2 is revoked, then the scheduler ticks.
    await c.engine.execute(cmd.revokeCredential('cred-2', 'keyCompromise'));
    await c.settle();
    await c.tick();
    // Then cred-1 was superseded at the end of the overlap, and its association went with it.
    expect(await typesOf(c, 'credential-cred-1')).not.toContain('CredentialRotationAbandoned');
    expect((await c.engine.entity('credential', 'cred-1')).snapshot).toMatchObject({ value: 'revoked', context: { revocationReason: 'superseded' } });
    expect(await stateOf(c, 'association', 'sa-1')).toBe('revoked');
    await refused(c, c.engine.execute(cmd.configureAssociation('sa-3', 'cred-1')), 'credentialUsable');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it("refuses an operator's abandonment after the end of the overlap, writing nothing", async () => {
    const { c, clock } = await rotating();
    clock.set(at(31));
    await c.engine.execute(cmd.revokeCredential('cred-2', 'keyCompromise'));
    await refused(c, c.engine.execute(abandon()), 'rotationAbandonable');
    await refused(c, c.engine.execute(cmd.configureAssociation('sa-2', 'cred-1')), 'credentialUsable');
  });

  it('is flagged by replay when an abandonment after the end of the overlap is appended past the engine', async () => {
    const { c, clock } = await rotating();
    clock.set(at(31));
    await c.engine.execute(cmd.revokeCredential('cred-2', 'keyCompromise'));
    await forge(c.store, 'credential-cred-1', 'CredentialRotationAbandoned', { credentialId: 'cred-1', successorId: 'cred-2' }, at(31));
    const { findings } = await replayAll(c.store);
    expect(findings).toEqual([expect.objectContaining({ streamId: 'credential-cred-1', reason: expect.stringContaining('rotationAbandonable') })]);
  });
});

describe('a successor the node did not hold at the end of the overlap (HLR-212)', () => {
  it('abandons the rotation though the successor was provisioned after it, before the tick: the predecessor stays', async () => {
    const { c, clock } = await rotating();
    // cred-3 rotates in instead of cred-2 (revoked), provisioned only after the overlap ended.
    await c.engine.execute(cmd.revokeCredential('cred-2', 'keyCompromise'));
    await c.engine.execute(abandon());
    await c.engine.execute(cmd.issueCredential('cred-3', 'meter-1', at(90), { predecessorId: 'cred-1' }));
    await c.engine.execute(command('startCredentialRotation', { credentialId: 'cred-1', successorId: 'cred-3', overlapEndsAt: at(40) }, { actor: operator }));
    await c.settle();
    clock.set(at(41));
    await c.engine.execute(cmd.provisionCredential('cred-3'));
    // Not held at the end of the overlap: a revocation as superseded is refused, and the scheduler abandons it.
    await refused(c, c.engine.execute(cmd.revokeCredential('cred-1', 'superseded')), 'handedOver');
    await c.settle();
    await c.tick();
    expect((await typesOf(c, 'credential-cred-1')).at(-1)).toBe('CredentialRotationAbandoned');
    expect(await stateOf(c, 'association', 'sa-1')).toBe('associated');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});
