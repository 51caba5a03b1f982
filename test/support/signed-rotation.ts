import { randomBytes } from 'node:crypto';
import type { Command } from '../../domain/commands/index.ts';
import { generateSigningKey, toBase64url } from '../../domain/crypto/index.ts';
import { isCredenceError } from '../../domain/errors.ts';
import type { RequestSigningPolicyInput } from '../../domain/signing/index.ts';
import type { DecodedEvent } from '../../domain/stored.ts';

/** Operator op-1, a fresh ed25519 key of its own, and a policy under `audience` requiring every command signed by it. */
export const operatorSigning = (audience: string) => {
  const operator = { id: 'op-1', role: 'operator' as const };
  const key = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
  const policy: RequestSigningPolicyInput = {
    audience,
    require: 'all',
    keys: [{ actorId: operator.id, roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(key.publicKey) }],
  };
  return { operator, key, policy };
};

/**
 * The stored `PseudonymRotated` event of the rotation `command` recorded at `now`, as the audit trail reads it: with its
 * record, whose data the stored re-check judges (review 240).
 */
export const storedRotation = (command: Command, now: Date): DecodedEvent => {
  const metadata = {
    ...command.metadata,
    schemaVersion: 1,
    commandType: 'rotatePseudonym',
    correlationId: command.metadata.commandId,
    causationId: command.metadata.commandId,
    occurredAt: now.toISOString(),
  };
  const streamId = `node-${(command.data as { nodeId?: string }).nodeId}`;
  const record = { id: command.metadata.commandId, streamId, revision: 0n, position: 1n, type: 'PseudonymRotated', data: command.data, metadata };
  return { record, event: { type: 'PseudonymRotated', data: command.data }, metadata, at: now.getTime() } as unknown as DecodedEvent;
};

/** The bad_signature refusal `run` throws, as text, or 'accepted' where it throws nothing; any other error is thrown on. */
export const refusal = (run: () => void): string => {
  try {
    run();
  } catch (error) {
    if (isCredenceError(error, 'bad_signature')) return String(error);
    throw error;
  }
  return 'accepted';
};
