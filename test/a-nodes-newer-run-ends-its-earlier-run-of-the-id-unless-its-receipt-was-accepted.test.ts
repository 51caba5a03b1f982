import { afterEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { delivered, restartableWorld, type RestartableWorld } from './support/restartable-world.ts';

// Review 140: the claim on a credential id (credential-ids-in-flight.ts) refused the same node's retry until its
// earlier run timed out. A newer run of the node ends the earlier one while that waits for its receipt (its keys
// discarded, its receipt then unknown_session); once the earlier run's receipt was accepted, the newer is refused as
// retryable (`in_flight`), not told to choose another id.

let world: RestartableWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe("a node's newer run of a credential id", () => {
  it('ends its earlier run waiting for its receipt, and is recorded; the earlier receipt is unknown_session', async () => {
    world = await restartableWorld('newer-run-ends-earlier');
    const device = await world.enrolled('meter-1', 'ed25519');
    const first = await delivered(world, device, 'meter-1-svc');
    const sessions = world.infrastructure.enrolmentFunction.sessionCount;
    await world.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'psk256' });
    expect(String((await world.credence.engine.entity('credential', 'meter-1-svc')).snapshot.value)).toBe('enrolled');
    expect(world.infrastructure.enrolmentFunction.sessionCount).toBe(sessions - 1);
    const late = await world.infrastructure.enrolmentFunction.acceptReceipt(first.receipt).catch((e: unknown) => e);
    expect(isCredenceError(late, 'protocol') && late.problem).toMatchObject({ reason: 'unknown_session' });
    await first.session.abort();
  });

  it('is refused as retryable (in_flight) while the earlier run, its receipt accepted, is being recorded', async () => {
    world = await restartableWorld('newer-run-in-flight');
    const device = await world.enrolled('meter-1', 'ed25519');
    const first = await delivered(world, device, 'meter-1-svc');
    // Accepted, its outcome not recorded yet (the procedures record it after this step, then settle the claim).
    await world.infrastructure.enrolmentFunction.acceptReceipt(first.receipt);
    const second = await world.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'psk256' }).catch((e: unknown) => e);
    expect(isCredenceError(second, 'validation')).toBe(true);
    expect((second as { problem: unknown }).problem).toMatchObject({ issues: [{ path: 'credentialId', rule: 'in_flight' }] });
    await first.session.abort();
  });
});
