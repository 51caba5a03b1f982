import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { claimingStore } from './support/fact-claims.ts';
import { cmd, fixture, footprint, operator, T0 } from './support/fleet.ts';

/*
 * Found in review: a command whose guard fact names its own target (provisionCredential of cred-1 with
 * bootstrapCredentialId cred-1) was accepted by the machine and then refused by the store with a plain Error, an
 * untyped 500 over HTTP. It is now a typed validation error naming the rule, and nothing is written. Pre-provisioning
 * no longer takes a fact dependency on a bootstrap it does not use.
 */
describe('a command naming its own target where another entity is meant', () => {
  it('is a validation error (another_entity), and writes nothing', async () => {
    const f = fixture();
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential()]) await f.engine.execute(c);
    const before = await footprint(f.store);
    // A rotation naming the credential as its own successor: the successor is the guard's fact.
    const refused = await f.engine
      .execute(command('startCredentialRotation', { credentialId: 'cred-1', successorId: 'cred-1', overlapEndsAt: '2030-01-01T00:00:00.000Z' }, { actor: operator }))
      .then(() => undefined, (error: unknown) => error);
    expect(isCredenceError(refused, 'validation')).toBe(true);
    expect((refused as Error).message).toMatch(/another_entity|names credential-cred-1 itself/);
    expect(await footprint(f.store)).toEqual(before);
  });

  it('a credential named as its own bootstrap is refused by the command schema, whatever the method', async () => {
    const f = fixture();
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential()]) await f.engine.execute(c);
    const before = await footprint(f.store);
    const refused = await f.engine
      .execute(command('provisionCredential', { credentialId: 'cred-1', method: 'pre-provisioning', bootstrapCredentialId: 'cred-1' }, { actor: operator }))
      .then(() => undefined, (error: unknown) => error);
    expect(isCredenceError(refused, 'validation')).toBe(true);
    expect((refused as Error).message).toMatch(/bootstrapCredentialId.*not its own bootstrap credential/);
    expect(await footprint(f.store)).toEqual(before);
  });

  it('pre-provisioning that names a bootstrap takes no dependency on it (no claim on it on EventStoreDB)', async () => {
    const f = fixture();
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential()]) await f.engine.execute(c);
    // Facts become claims on a store without conditions across streams: a dependency shows as a claim on its stream.
    const claiming = createEngine({ store: claimingStore(f.store, async () => undefined), clock: new FakeClock(T0) });
    const outcome = await claiming.execute(
      command('provisionCredential', { credentialId: 'cred-1', method: 'pre-provisioning', bootstrapCredentialId: 'cred-boot' }, { actor: operator }),
    );
    expect(outcome.state).toBe('enrolled');
    expect(await f.store.readStream('credential-cred-boot')).toEqual([]);
  });
});
