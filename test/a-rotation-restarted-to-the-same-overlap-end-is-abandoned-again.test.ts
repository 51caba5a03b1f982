/*
 * Review 344 (2): the scheduler derived the command id of an abandonment from the credential and the end of the
 * overlap alone, the same for every rotation of the credential ending at that instant. After the wall clock stepped
 * back and the operator started the rotation again with the same overlapEndsAt, the abandonment at that instant was
 * answered as a repeat of the first and dropped: nothing recorded, nothing dead-lettered, the credential left with a
 * passed rotation. The id is now derived from the rotation itself (its CredentialRotationStarted).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import type { Clock } from '../domain/ports/clock.ts';
import { at, cmd, T0 } from './support/fleet.ts';

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

describe('a rotation started again with the overlap end of one abandoned before', () => {
  it('is abandoned again at that instant', async () => {
    // A clock stepped by hand, backwards too (a FakeClock only goes forwards).
    let now = Date.parse(T0);
    const clock: Clock & { set(to: string): void } = { now: () => new Date(now), set: (to) => void (now = Date.parse(to)) };
    const c = (credence = openCredence({ location: { memory: true }, clock }));
    // cred-2 never provisioned: each rotation onto it is abandoned at the end of its overlap.
    for (const x of [
      cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1'),
      cmd.issueCredential('cred-2', 'meter-1', at(90), { predecessorId: 'cred-1' }),
      cmd.startCredentialRotation(at(10)),
    ]) await c.engine.execute(x);
    await c.settle();
    clock.set(at(11));
    await c.tick();
    const types = async () => (await c.store.readStream('credential-cred-1')).map((e) => e.type);
    expect((await types()).filter((t) => t === 'CredentialRotationAbandoned')).toHaveLength(1);

    // The wall clock stepped back; the operator starts the rotation again, its overlap ending at the same instant.
    clock.set(at(9));
    await c.engine.execute(cmd.startCredentialRotation(at(10)));
    await c.settle();
    clock.set(at(11));
    await c.tick();
    expect((await types()).filter((t) => t === 'CredentialRotationAbandoned')).toHaveLength(2);
    expect((await types()).at(-1)).toBe('CredentialRotationAbandoned');
    expect((await c.engine.entity('credential', 'cred-1')).snapshot.context).toMatchObject({ successorId: undefined });
  });
});
