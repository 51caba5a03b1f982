import { streamIdOf, type EntityKind } from '../../domain/streams.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { applyStored, emptyEntity, type LoadedEntity } from '../../machines/index.ts';
import { ENTRY_OVERHEAD_BYTES } from './entity-cache.ts';
import { jsonLength } from './json-size.ts';
import { BoundedByBytes } from './bounded-by-bytes.ts';

/**
 * Of a credential's issue (`CredentialIssued`), what the hello's descriptor reads and the snapshot does not hold: the
 * public key and the certificate's DER, both base64url (adapters/protocols/procedures/descriptors.ts, `descriptorOf`).
 */
export interface PeekedIssue {
  readonly publicKey?: string;
  readonly certificate?: string;
}

/** What `peek` answers: the entity's snapshot and revision and, of its events, only what its issue names (`PeekedIssue`). */
export interface PeekedEntity extends Omit<LoadedEntity, 'events'> {
  readonly issued: PeekedIssue | undefined;
}

interface Memo {
  readonly entity: PeekedEntity;
  readonly bytes: number;
}

/**
 * The memo's share of the entity cache's bound (`cacheMaxBytes`, CREDENCE_ENTITY_CACHE_MIB), so that one setting sizes
 * both for the fleet: by the estimate below, a node takes some 1.1 KB and a credential 1.5 KB (2.5 KB with a
 * certificate of 870 base64url characters), so the default 64 MiB cache leaves 32 MiB here, some 13,000 devices' node
 * and credential (9,000 with certificates).
 */
export const PEEK_MEMO_SHARE = 0.5;

/**
 * Per string the issue keeps, beyond its characters (V8 keeps base64url one byte a character): its header and its slot
 * in the `PeekedIssue` object. Measured as heap growth per entry over 5,000 credentials looked up, with and without a
 * certificate (some 110 bytes more than the characters each), rounded up.
 */
const ISSUE_STRING_OVERHEAD_BYTES = 128;

const issueBytes = ({ publicKey, certificate }: PeekedIssue): number =>
  (publicKey === undefined ? 0 : ISSUE_STRING_OVERHEAD_BYTES + publicKey.length) + (certificate === undefined ? 0 : ISSUE_STRING_OVERHEAD_BYTES + certificate.length);

/**
 * Counted as the entity cache counts an entry, plus the issue's strings by their length. Found in review: the whole
 * issue event was kept (its stored record, raw data and metadata, and the event decoded) and counted as twice the
 * event's JSON, some 20% short of what a credential's entry held; now only the issue's two strings are kept.
 */
const bytesOf = (entity: PeekedEntity): number =>
  ENTRY_OVERHEAD_BYTES +
  entity.streamId.length +
  2 * jsonLength(entity.snapshot.context) +
  (entity.issued === undefined ? 0 : issueBytes(entity.issued));

const issueIn = (events: readonly DecodedEvent[]): PeekedIssue | undefined => {
  for (const { event } of events) {
    if (event.type !== 'CredentialIssued') continue;
    const { publicKey, certificate } = event.data;
    return { ...(publicKey !== undefined ? { publicKey } : {}), ...(certificate?.der !== undefined ? { certificate: certificate.der } : {}) };
  }
  return undefined;
};

/**
 * The entities an unauthenticated device hello looked up, as compact snapshots kept apart from the entity cache, so
 * that a lookup reads only the records appended since the last one (one indexed query, none found for an entity
 * left as it was) instead of rebuilding the whole stream. Before, every hello rebuilt its node's and credential's
 * streams, which grow with each association (review 64 F1: 0.16 ms for a new node, 75.8 ms after 1,000 associations,
 * so one address within the device routes' rate limit kept a core busy).
 *
 * Apart from the entity cache because the hello must leave no trace there (review 33: its public gauges told a
 * stranger which ids exist). Its count and bytes are published nowhere, but what it holds is heap, which the public
 * `/metrics` shows among Node's gauges: a real id looked up adds its entry (some 1.1 to 2.5 KB), an unknown one
 * nothing (docs/service.md says to serve the metrics on the probe port). Only a stream that exists is kept: an unknown
 * id costs the same one empty read every time and takes no room. Bounded by estimated bytes, least recently looked up
 * first out.
 *
 * What this does not do (review 70): make a lookup's cost independent of the history. The first lookup of an entity
 * after a start, or after it was evicted, still rebuilds its whole stream, and a stranger naming more existing ids than
 * fit here (sequential Node-IDs) evicts each before its next lookup. Persisted snapshots would; this bounds the common
 * case, a device's repeated hellos. The hello routes answer no sooner than a floor (`limits.helloFloorMs`), which hides
 * that cost below it. Nor does it see a stream deleted outside Credence (EventStoreDB answers a deleted
 * stream's read as empty, taken here as "unchanged"): Credence deletes none.
 */
export class PeekMemo {
  readonly #entries: BoundedByBytes<Memo>;

  constructor(
    private readonly store: EventStore,
    maxBytes: number,
  ) {
    this.#entries = new BoundedByBytes(maxBytes);
  }

  /** Estimated bytes of what is kept. */
  get bytes(): number {
    return this.#entries.bytes;
  }

  async peek(kind: EntityKind, id: string): Promise<PeekedEntity> {
    const streamId = streamIdOf(kind, id);
    const kept = this.#entries.get(streamId);
    const memo = kept?.entity;
    const fromRevision = memo?.revision === undefined ? 0n : memo.revision + 1n;
    const records = await this.store.readStream(streamId, { fromRevision });
    if (kept !== undefined && records.length === 0) {
      // Looked up again: the newest, as it was (its size unchanged).
      this.#entries.set(streamId, kept);
      return kept.entity;
    }
    const base: LoadedEntity = memo === undefined ? emptyEntity(kind, id) : { ...memo, events: [] };
    const { events, ...rest } = records.length === 0 ? base : applyStored(base, records);
    const entity: PeekedEntity = { ...rest, issued: memo?.issued ?? issueIn(events) };
    if (entity.revision !== undefined) this.#entries.set(streamId, { entity, bytes: bytesOf(entity) });
    return entity;
  }
}
