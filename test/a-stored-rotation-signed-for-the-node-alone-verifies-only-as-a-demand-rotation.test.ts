/**
 * Review 168 F2. An operator signs a rotation as `{ nodeId }` (`credence pseudonym rotate`, the rotation route): the
 * pseudonym, epoch and trigger are the service's. Admission refuses any trigger but `demand` from outside (rule
 * `demand_only`), but the re-check of a stored event left the trigger out as well, so a `PseudonymRotated` stored
 * with `trigger: 'interval'` under such a signature (recorded before rule `demand_only`, or by a library caller) read
 * `verified`: the operator's word attested a scheduled rotation. The signed form leaves the trigger out only as
 * `demand`, so signing, admission and the stored check agree that a signature over the node attests a demand rotation.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../domain/commands/index.ts';
import { requestVerifier, signCommand, storedSignatureCheck } from '../domain/signing/index.ts';
import type { DecodedEvent } from '../domain/stored.ts';
import { operatorSigning, refusal, storedRotation } from './support/signed-rotation.ts';

const AUDIENCE = 'credence:rotation-trigger-test';
const { operator, key, policy } = operatorSigning(AUDIENCE);
const ISSUED = new Date('2026-12-05T10:00:00.000Z');
const NOW = new Date('2026-12-05T10:00:30.000Z');
const P = `p-${'a'.repeat(26)}`;
const options = { audience: AUDIENCE, issuedAt: ISSUED, lifetimeSeconds: 120 };
const signer = { algorithm: 'ed25519' as const, secretKey: key.secretKey };

/** What `credence pseudonym rotate` signs: the node alone. */
const nodeAlone = () => signCommand({ type: 'rotatePseudonym', data: { nodeId: 'meter-1' }, metadata: { actor: operator, commandId: randomUUID() } }, signer, options).metadata;

const rotation = (trigger: string, metadata: Record<string, unknown>) =>
  parseCommand({ type: 'rotatePseudonym', data: { pseudonym: P, nodeId: 'meter-1', epoch: 99, trigger }, metadata });

const storedOf = (command: ReturnType<typeof rotation>): DecodedEvent => storedRotation(command, NOW);

describe('a rotation signed over the node alone', () => {
  const stored = storedSignatureCheck(policy);
  const verify = requestVerifier(policy);

  it('stored as a demand rotation is verified', () => {
    const { commandId, signature } = nodeAlone();
    expect(stored(storedOf(rotation('demand', { actor: operator, commandId, signature })))).toBe('verified');
  });

  it.each(['interval', 'association', 'initial'])('stored with trigger %s is invalid, and refused as a new request', (trigger) => {
    const { commandId, signature } = nodeAlone();
    const command = rotation(trigger, { actor: operator, commandId, signature });
    expect(stored(storedOf(command))).toBe('invalid');
    expect(refusal(() => verify(command, { now: NOW }))).toMatch(/does not verify over the canonical rotatePseudonym command/);
  });

  it('signed by a library caller with another trigger, attests that trigger', () => {
    const commandId = randomUUID();
    const signed = signCommand(rotation('interval', { actor: operator, commandId }), signer, options);
    const command = rotation('interval', signed.metadata);
    expect(refusal(() => verify(command, { now: NOW }))).toBe('accepted');
    expect(stored(storedOf(command))).toBe('verified');
    expect(stored(storedOf(rotation('demand', signed.metadata)))).toBe('invalid');
  });
});
