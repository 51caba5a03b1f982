import { ed25519 } from '@noble/curves/ed25519.js';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { type RecordedEvent } from '../domain/ports/index.ts';
import { type EventStore } from '../domain/ports/index.ts';
import type { CheckpointSigner } from '../domain/transparency/index.ts';
import { noteVerifierKey } from '../domain/transparency/index.ts';
import { readEventsDbInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { auditStoreAgainstLog, type AuditReport } from '../projections/transparency/index.ts';

/** Shared by the transparency tests: a deterministic signer, deterministic events, temp folders. */

export const ORIGIN = 'credence.test/log';

export const fixedSigner = (seedByte = 1, keyName = ORIGIN): CheckpointSigner => {
  const seed = new Uint8Array(32).fill(seedByte);
  return { keyName, publicKey: ed25519.getPublicKey(seed), sign: async (m) => ed25519.sign(m, seed) };
};

export const keyOf = (signer: CheckpointSigner) => noteVerifierKey(signer.keyName, signer.publicKey);

export const eventId = (i: number): string => `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`;

export const STREAMS = ['credential-meter-1', 'node-meter-1', 'credential-meter-2'] as const;

/** Appends `count` events round-robin over three streams, each with a request signature in its metadata. */
export const appendEvents = async (store: EventStore, count: number, from = 0): Promise<void> => {
  for (let i = from; i < from + count; i++) {
    const streamId = STREAMS[i % STREAMS.length]!;
    await store.appendToStream(
      streamId,
      [
        {
          id: eventId(i),
          type: i % 2 === 0 ? 'CredentialProvisioned' : 'NodeEnrolled',
          data: { index: i, label: `event ${i}`, nested: { z: 1, a: [i, 'x'] } },
          metadata: { actor: 'operator-1', occurredAt: '2026-01-01T00:00:00.000Z', requestSignature: { alg: 'Ed25519', sig: `sig-${i}` } },
        },
      ],
      { expectedRevision: ExpectedRevision.any },
    );
  }
};

export const readAllEvents = async (store: EventStore): Promise<RecordedEvent[]> => {
  const events: RecordedEvent[] = [];
  for await (const e of store.readAll()) events.push(e);
  return events;
};

export { tempDirs } from './support/temp-dirs.ts';

/** The tamper audit of a data folder's events.db against its transparency.db, under `signer`'s key. */
export const auditDataDir = async (dir: string, signer: CheckpointSigner): Promise<AuditReport> => {
  const log = openTransparencyLogInDir(dir);
  try {
    return await auditStoreAgainstLog({ storedEvents: readEventsDbInDir(dir), log, logPublicKey: keyOf(signer) });
  } finally {
    log.close();
  }
};
