/**
 * Review 333 (low): the hint for a receipt answered by a refusal said "(review 319)" to the user, and a rerun without
 * a token said the pending run's answer "was lost, or the server failed", which is wrong after a plain 422 refusal: a
 * refusal is not signed, so the device cannot trust it said nothing was recorded. What the user is told now names no
 * review, and the rerun's refusal covers a refusal the device could not trust.
 */
import { describe, expect, it } from 'vitest';
import { ProblemResponse } from '../adapters/client/http.ts';
import { ReceiptOutcomeUnknown } from '../adapters/client/device/provision.ts';
import { receiptOutcomeUnknown } from '../bin/commands/device/receipt-outcome.ts';
import { settlePendingProvisioning } from '../bin/commands/device/pending-provisioning.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { isCredenceError } from '../domain/errors.ts';

const pending = {
  credentialId: 'svc-1',
  handle: 'h-1',
  descriptor: { kind: 'p256', fingerprint: 'f'.repeat(64) },
  writtenAt: '2030-01-01T00:00:00.000Z',
};

/** Only what the two messages read of a device: its folder, its pending run, and that its key is held. */
const sim = { dir: '/tmp/device', state: { provisioning: pending }, device: { se: { describe: async () => ({}) } } } as unknown as SimulatedDevice;

describe('a device provision whose receipt was answered by a refusal', () => {
  it('is told why its outcome is unknown in words that name no review', () => {
    const refusal = new ProblemResponse(422, { type: 'about:blank', title: 'Unprocessable', status: 422, detail: 'refused' });
    const said = receiptOutcomeUnknown(sim, new ReceiptOutcomeUnknown('svc-1', 'h-1' as never, refusal));
    expect(said).toBeInstanceOf(ProblemResponse);
    const hint = String((said as ProblemResponse).problem['hint']);
    expect(hint).toContain('it carries no proof that verifies, under the Enrolment Function key this device pinned');
    expect(hint).not.toMatch(/review \d+/i);
  });

  it('rerun without a token: the refusal says the earlier answer may have been a refusal it cannot trust', async () => {
    const refused = await settlePendingProvisioning(sim, undefined, 'svc-2').then(() => undefined, (error: unknown) => error);
    expect(isCredenceError(refused, 'validation')).toBe(true);
    const message = (refused as Error).message;
    expect(message).toContain('no proof that verifies');
    expect(message).not.toMatch(/its answer was lost, or the server failed\)/);
    expect(message).not.toMatch(/review \d+/i);
  });
});
