/** What the replay tests share: a forged append, and the temporary data folders their CLI runs read. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { ExpectedRevision, type EventStore, type JsonObject } from '../domain/ports/event-store.ts';
import { operator } from './support/fleet.ts';

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
