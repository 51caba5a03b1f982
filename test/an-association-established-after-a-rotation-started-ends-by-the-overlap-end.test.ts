/**
 * Review 345 (low; seed 003 11.3.2, HLR-212): a rotation started between the Registrar's last read of the credential
 * at the finish and the engine recording `AssociationEstablished` let the association outlive the overlap: the
 * Registrar's cut of the grant to the overlap end did not hold at commit, since the engine's rule
 * (lifetimeShorterThanCredential) bounds by notAfter alone. The association machine now holds an establishment to
 * the end of a standing rotation's overlap (endsWithinOverlap, machines v14), read from the credential fact as
 * lifetimeShorterThanCredential reads it: refused, nothing written. With no rotation standing, nothing changes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { ruleSince } from '../projections/replay/machines-fingerprint.ts';
import { at, cmd, footprint, rejection, T0 } from './support/fleet.ts';

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** meter-1 enrolled, cred-1 (to at(90)) provisioned, sa-1 configured on it; with `rotated`, a rotation onto cred-2 until at(5). */
const open = async (rotated: boolean) => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1')]) {
    await c.engine.execute(x);
  }
  await c.engine.execute(cmd.configureAssociation('sa-1', 'cred-1'));
  if (rotated) {
    // After the configuration, as a rotation started during the handshake is.
    await c.engine.execute(cmd.issueCredential('cred-2', 'meter-1', at(90), { predecessorId: 'cred-1' }));
    await c.engine.execute(cmd.provisionCredential('cred-2'));
    await c.engine.execute(cmd.startCredentialRotation(at(5)));
  }
  return c;
};

describe('an association established on a credential whose rotation started after its configuration', () => {
  it('is refused by endsWithinOverlap when it expires past the end of the overlap, nothing written', async () => {
    const c = await open(true);
    const before = await footprint(c.store);

    const error = await rejection(c.engine.execute(cmd.establishAssociation('sa-1', at(10))));

    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'AssociationEstablished', rule: 'endsWithinOverlap' });
    expect(error.message).toContain('credential cred-1');
    expect(error.message).toContain(at(5));
    expect(await footprint(c.store)).toEqual(before);
    expect((await c.engine.entity('association', 'sa-1')).snapshot.value).toBe('initialized');
  });

  it('is established when it expires by the end of the overlap', async () => {
    const c = await open(true);
    await c.engine.execute(cmd.establishAssociation('sa-1', at(4)));
    expect((await c.engine.entity('association', 'sa-1')).snapshot.value).toBe('associated');
  });

  it('with no rotation standing, is bounded by the credential\'s notAfter as before', async () => {
    const c = await open(false);
    await c.engine.execute(cmd.establishAssociation('sa-1', at(30)));
    expect((await c.engine.entity('association', 'sa-1')).snapshot.value).toBe('associated');
  });

  it('replay names the rule as newer than an event an earlier version stored (RULES_SINCE)', () => {
    expect(ruleSince('AssociationEstablished', 'endsWithinOverlap')).toBe('credence:machines:v14');
  });
});
