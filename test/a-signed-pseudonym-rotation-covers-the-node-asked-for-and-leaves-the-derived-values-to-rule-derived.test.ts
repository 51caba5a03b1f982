/**
 * SER-016 with SER-011/SER-025: an operator asks for a node's pseudonym to be rotated; the pseudonym and epoch are the
 * service's to derive with a key no client holds, so no operator could sign a `rotatePseudonym` (and under
 * `require: 'all'` none could be recorded). The signed form of `rotatePseudonym` is the request: the node, with the
 * commandId, actor and claims of any signed command; pseudonym and epoch are left out, and the engine's rule
 * `derived` checks them, and the trigger is left out only as `demand` (review 168). Signing, admission and the re-check of a stored event take that form from one place.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../domain/commands/index.ts';
import { canonicalJson, sign, toBase64url, utf8 } from '../domain/crypto/index.ts';
import { requestVerifier, signCommand, storedSignatureCheck } from '../domain/signing/index.ts';
import type { DecodedEvent } from '../domain/stored.ts';
import { operatorSigning, refusal, storedRotation } from './support/signed-rotation.ts';

const AUDIENCE = 'credence:rotation-form-test';
const { operator, key, policy } = operatorSigning(AUDIENCE);
const ISSUED = new Date('2026-12-05T10:00:00.000Z');
const NOW = new Date('2026-12-05T10:00:30.000Z');
const P1 = `p-${'a'.repeat(26)}`;
const P2 = `p-${'b'.repeat(26)}`;
const options = { audience: AUDIENCE, issuedAt: ISSUED, lifetimeSeconds: 120 };

/** The rotation the service builds for the request: the derived pseudonym, epoch and trigger added to the node. */
const rotation = (data: Record<string, unknown>, metadata: Record<string, unknown>) =>
  parseCommand({ type: 'rotatePseudonym', data: { pseudonym: P1, nodeId: 'meter-1', epoch: 3, trigger: 'demand', ...data }, metadata });

/** What the operator signs: the node it asks for, under its command id. */
const request = (nodeId = 'meter-1') =>
  signCommand({ type: 'rotatePseudonym', data: { nodeId }, metadata: { actor: operator, commandId: randomUUID() } }, { algorithm: 'ed25519', secretKey: key.secretKey }, options)
    .metadata;

/** The stored event of `command`, as the audit trail reads it. */
const storedOf = (command: ReturnType<typeof rotation>): DecodedEvent => storedRotation(command, NOW);

describe('a signed pseudonym rotation', () => {
  const verify = requestVerifier(policy);
  const stored = storedSignatureCheck(policy);

  it('is admitted with the pseudonym and epoch the service derives added to what the operator signed, and its stored event verifies', () => {
    const { commandId, signature } = request();
    const command = rotation({}, { actor: operator, commandId, signature });
    expect(refusal(() => verify(command, { now: NOW }))).toBe('accepted');
    expect(stored(storedOf(command))).toBe('verified');
    // Whatever pseudonym and epoch the service derives (checked by rule `derived`, not by the signature).
    const elsewhere = rotation({ pseudonym: P2, epoch: 4 }, { actor: operator, commandId, signature });
    expect(refusal(() => verify(elsewhere, { now: NOW }))).toBe('accepted');
    // But not another trigger: a signature over the node attests a demand rotation (review 168).
    const scheduled = rotation({ trigger: 'interval' }, { actor: operator, commandId, signature });
    expect(refusal(() => verify(scheduled, { now: NOW }))).toMatch(/does not verify/);
    expect(stored(storedOf(scheduled))).toBe('invalid');
  });

  it('signs the same bytes whether the signer is given the derived values or not', () => {
    const commandId = randomUUID();
    const bare = signCommand({ type: 'rotatePseudonym', data: { nodeId: 'meter-1' }, metadata: { actor: operator, commandId } }, { algorithm: 'ed25519', secretKey: key.secretKey }, options);
    const full = signCommand({ ...rotation({}, { actor: operator, commandId }) }, { algorithm: 'ed25519', secretKey: key.secretKey }, options);
    expect(full.metadata.signature).toEqual(bare.metadata.signature);
  });

  it('attests the node: signed for another node, it is refused, and a stored event naming another node is invalid', () => {
    const { commandId, signature } = request('meter-2');
    const command = rotation({}, { actor: operator, commandId, signature });
    expect(refusal(() => verify(command, { now: NOW }))).toMatch(/does not verify over the canonical rotatePseudonym command/);
    expect(stored(storedOf(command))).toBe('invalid');
  });

  it('attests the command id and the actor as any signed command does', () => {
    const { signature } = request();
    expect(refusal(() => verify(rotation({}, { actor: operator, commandId: randomUUID(), signature }), { now: NOW }))).toMatch(/does not verify/);
  });

  it('stored with a signature over the whole data, as engines admitted one before, still verifies; a new request in that form is refused', () => {
    const commandId = randomUUID();
    const data = { pseudonym: P1, nodeId: 'meter-1', epoch: 3, trigger: 'demand' };
    const claims = { issuedAt: ISSUED.toISOString(), expiresAt: new Date(ISSUED.getTime() + 120_000).toISOString(), audience: AUDIENCE };
    const bytes = utf8(canonicalJson({ v: 2, type: 'rotatePseudonym', data, actor: operator, commandId, correlationId: commandId, causationId: commandId, ...claims }));
    const unsigned = signCommand({ type: 'rotatePseudonym', data: { nodeId: 'meter-1' }, metadata: { actor: operator, commandId } }, { algorithm: 'ed25519', secretKey: key.secretKey }, options);
    const signature = { ...unsigned.metadata.signature, value: toBase64url(sign('ed25519', key.secretKey, bytes)) };
    const command = rotation({}, { actor: operator, commandId, signature });
    expect(stored(storedOf(command))).toBe('verified');
    // That signature attests the whole data: another pseudonym under it is not what was signed.
    expect(stored(storedOf(rotation({ pseudonym: P2 }, { actor: operator, commandId, signature })))).toBe('invalid');
    expect(refusal(() => verify(command, { now: NOW }))).toMatch(/does not verify over the canonical rotatePseudonym command/);
  });

  it('leaves every other command signed over its whole data', () => {
    const commandId = randomUUID();
    const { signature } = signCommand(
      { type: 'resolvePseudonym', data: { pseudonym: P1 }, metadata: { actor: { id: operator.id, role: 'operator' }, commandId } },
      { algorithm: 'ed25519', secretKey: key.secretKey },
      options,
    ).metadata;
    const resolution = parseCommand({ type: 'resolvePseudonym', data: { pseudonym: P1, reason: 'case 1' }, metadata: { actor: operator, commandId, signature } });
    expect(refusal(() => verify(resolution, { now: NOW }))).toMatch(/does not verify/);
  });
});
