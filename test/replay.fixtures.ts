/** What the replay tests share: a forged append, and the temporary data folders their CLI runs read. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { ExpectedRevision, type EventStore, type JsonObject } from '../domain/ports/event-store.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { claimingStore } from './support/fact-claims.ts';
import { cmd, operator, T0 } from './support/fleet.ts';

/** The metadata of a forged event: the operator's, under `commandId`. */
export const forgedMetadata = (commandId: string, occurredAt: string): JsonObject => ({
  schemaVersion: 1, actor: operator as unknown as JsonObject, commandId, commandType: 'forged', correlationId: 'f', causationId: 'f', occurredAt,
});

/**
 * Appends straight to the store, bypassing the engine and its machines: what a tampering or buggy writer would do.
 * Under a new command id, or the one given.
 */
export const forge = async (store: EventStore, streamId: string, type: string, data: JsonObject, occurredAt: string, commandId: string = crypto.randomUUID()) => {
  const stream = await store.readStream(streamId);
  return store.appendToStream(streamId, [{ id: crypto.randomUUID(), type, data, metadata: forgedMetadata(commandId, occurredAt) }], {
    expectedRevision: ExpectedRevision.after(stream.at(-1)?.revision),
  });
};

/**
 * meter-1 enrolled with cred-1 provisioned, and sa-1 configured on it through fact claims on the credential and the
 * node (EventStoreDB's way), legally: the engine that wrote it without claims, and the configure command's id.
 */
export const configuredThroughClaims = async (store: EventStore) => {
  const clock = new FakeClock(T0);
  const plain = createEngine({ store, clock });
  for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential()]) await plain.execute(c);
  await createEngine({ store: claimingStore(store, async () => {}), clock }).execute(cmd.configureAssociation());
  const configured = (await store.readStream('association-sa-1'))[0]!.metadata['commandId'] as string;
  return { plain, configured };
};

/** Call inside a describe: a maker of fresh data folders (`<prefix>XXXXXX` in the temp dir), removed after each test. */
export const dataDirs = (prefix: string): (() => string) => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
};

/**
 * What machines v1 could store and v2 refuses (review 167): meter-1 revoked, then cred-1 provisioned (v1 did not read
 * the owner), then the cascade's revocation of cred-1. Replay finds one refusal, by ownerIsLive, a rule since v2.
 */
export const provisionedAfterRevocationByV1 = async (store: EventStore): Promise<void> => {
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1')]) await engine.execute(c);
  await engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
  await forge(store, 'credential-cred-1', 'CredentialProvisioned', { credentialId: 'cred-1', method: 'pre-provisioning' }, T0);
  await engine.execute(cmd.revokeCredential('cred-1', 'cessationOfOperation'));
};
