import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import type { CommandSink } from '../domain/ports/index.ts';
import { expiryScheduler } from '../projections/expiry/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, rejection, rotateOne, T0 } from './support/fleet.ts';

/*
 * HLR-212 (seed 000: secure modification of credentials), found in adversarial review 31: at the end of a rotation's
 * overlap the expiry scheduler read the successor held, and the successor was revoked before the scheduler's revocation
 * of the predecessor committed. The predecessor was still revoked as superseded (and its associations by the cascade):
 * the node was left with nothing, and the predecessor on the CRL as superseded. A revocation as superseded of a
 * credential whose rotation stands now reads its successor as a fact (`handedOver`), so it is refused at the commit,
 * and the scheduler decides again on fresh facts: the rotation is abandoned, the predecessor and its association stay.
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

/**
 * The engine as the scheduler sees it, but the successor is revoked (keyCompromise, by an operator) right after the
 * scheduler's first read of it returns: between its decision and its commit.
 */
const racingSink = (c: Credence): CommandSink => {
  let raced = false;
  return {
    execute: (input, options) => c.engine.execute(input, options),
    executeAsSystem: (input) => c.engine.executeAsSystem(input),
    clock: c.engine.clock,
    view: async (kind, id) => {
      const view = await c.engine.view(kind, id);
      if (kind === 'credential' && id === 'cred-2' && !raced) {
        raced = true;
        await c.engine.execute(cmd.revokeCredential('cred-2', 'keyCompromise'));
      }
      return view;
    },
  };
};

const typesOf = async (c: Credence, stream: string) => (await c.store.readStream(stream)).map((e) => e.type);
const stateOf = async (c: Credence, kind: 'credential' | 'association', id: string) => String((await c.engine.entity(kind, id)).snapshot.value);

describe("the end of a rotation's overlap whose successor is revoked between the scheduler's read and its commit (HLR-212, review 31)", () => {
  it('abandons the rotation: the predecessor and its association stay, nothing is revoked as superseded', async () => {
    const { c, clock } = await rotating();
    clock.set(at(30));
    // Given the scheduler's read of cred-2 (held), then cred-2 revoked before its command commits.
    const scheduler = expiryScheduler(racingSink(c));
    scheduler.setup(c.readModels);
    await scheduler.tick();
    await c.settle();
    // Then the rotation is abandoned, decided again on the facts at the commit.
    expect((await c.store.readStream('credential-cred-2')).at(-1)).toMatchObject({ type: 'CredentialRevoked', data: { reason: 'keyCompromise' } });
    expect((await typesOf(c, 'credential-cred-1')).at(-1)).toBe('CredentialRotationAbandoned');
    expect(await stateOf(c, 'credential', 'cred-1')).toBe('associated');
    expect(await stateOf(c, 'association', 'sa-1')).toBe('associated');
    const superseded = [];
    for await (const r of c.store.readAll()) if (r.type.endsWith('Revoked') && (r.data as { reason?: string }).reason === 'superseded') superseded.push(r.streamId);
    expect(superseded).toEqual([]);
    // The abandonment is recorded: the deadline is gone, and a later tick changes nothing.
    clock.set(at(31));
    await c.tick();
    expect(await stateOf(c, 'credential', 'cred-1')).toBe('associated');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('never supersedes the predecessor after its successor was revoked, however the tick and the revocation interleave', async () => {
    // Review 31 saw it in 11 of 60 plain races. Either order is legal: superseded first (the successor held then), or
    // the successor revoked first and the rotation abandoned; never the predecessor superseded after it.
    for (let run = 0; run < 20; run++) {
      const { c, clock } = await rotating();
      clock.set(at(30));
      await Promise.all([c.tick(), c.engine.execute(cmd.revokeCredential('cred-2', 'keyCompromise'))]);
      await c.tick();
      await c.settle();
      const log: string[] = [];
      for await (const r of c.store.readAll()) if (r.type === 'CredentialRevoked' || r.type === 'CredentialRotationAbandoned') log.push(`${r.streamId} ${r.type} ${(r.data as { reason?: string }).reason ?? ''}`.trim());
      expect([
        ['credential-cred-1 CredentialRevoked superseded', 'credential-cred-2 CredentialRevoked keyCompromise'],
        ['credential-cred-2 CredentialRevoked keyCompromise', 'credential-cred-1 CredentialRotationAbandoned'],
      ]).toContainEqual(log);
      expect((await replayAll(c.store)).findings).toEqual([]);
      await c.close();
      credence = undefined;
    }
  });

  it('refuses, writing nothing, a revocation as superseded while the node does not hold the successor', async () => {
    const { c, clock } = await rotating();
    await c.engine.execute(cmd.revokeCredential('cred-2', 'keyCompromise'));
    clock.set(at(30));
    const before = await footprint(c.store);
    expect((await rejection(c.engine.execute(cmd.revokeCredential('cred-1', 'superseded')))).problem).toMatchObject({
      code: 'illegal_transition', attempted: 'CredentialRevoked', rule: 'handedOver',
    });
    expect(await footprint(c.store)).toEqual(before);
    // Any other reason is not this rule's.
    await c.engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise'));
    expect(await stateOf(c, 'credential', 'cred-1')).toBe('revoked');
  });

  it('is flagged by replay when appended past the engine: the predecessor revoked as superseded after its successor was', async () => {
    const { c, clock } = await rotating();
    clock.set(at(30));
    await c.engine.execute(cmd.revokeCredential('cred-2', 'keyCompromise'));
    await forge(c.store, 'credential-cred-1', 'CredentialRevoked', { credentialId: 'cred-1', reason: 'superseded' }, at(30));
    const { findings } = await replayAll(c.store);
    expect(findings).toEqual([expect.objectContaining({ streamId: 'credential-cred-1', reason: expect.stringContaining('handedOver') })]);
  });

  it('keeps a successor superseded in turn right: revoked as superseded while the node holds the end of the chain, abandoned by no one otherwise', async () => {
    const { c, clock } = await rotating();
    await c.engine.execute(cmd.issueCredential('cred-3', 'meter-1', at(90), { predecessorId: 'cred-2' }));
    await c.engine.execute(cmd.provisionCredential('cred-3'));
    await c.engine.execute(cmd.startCredentialRotation(at(10), 'cred-2', 'cred-3'));
    await c.settle();
    clock.set(at(10));
    await c.tick();
    expect((await c.engine.entity('credential', 'cred-2')).snapshot.context).toMatchObject({ revocationReason: 'superseded' });
    // The end of the chain revoked after the scheduler read it, before its commit: refused, and neither choice fits
    // (the predecessor stays; it may rotate again, its successor having ended).
    clock.set(at(30));
    let raced = false;
    const sink: CommandSink = {
      ...racingSink(c),
      view: async (kind, id) => {
        const view = await c.engine.view(kind, id);
        if (kind === 'credential' && id === 'cred-3' && !raced) {
          raced = true;
          await c.engine.execute(cmd.revokeCredential('cred-3', 'keyCompromise'));
        }
        return view;
      },
    };
    const scheduler = expiryScheduler(sink);
    scheduler.setup(c.readModels);
    await scheduler.tick();
    await c.settle();
    expect(await stateOf(c, 'credential', 'cred-1')).toBe('associated');
    expect(await stateOf(c, 'association', 'sa-1')).toBe('associated');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});
