import { z } from 'zod';
import { constantTimeEqual, toBase64url } from '../../../domain/crypto/index.ts';
import { CredenceError, protocolError, validationError } from '../../../domain/errors.ts';
import type { LoggedLeaf, RecordedEvent, StoredCheckpoint } from '../../../domain/ports/index.ts';
import { EVIDENCE_BUNDLE_FORMAT, eventLeafHash, noteVerifierKey, recordedEventToJson } from '../../../domain/transparency/index.ts';
import { pseudonymNamedBy, WithheldReason } from '../../../domain/transparency/bundle.ts';
import { recordAtPosition } from '../../../projections/runtime/index.ts';
import { scavengedAway } from '../../../projections/transparency/audit-leaf.ts';
import { provenConsistency, provenInclusion, signedCheckpointOf } from '../../../projections/transparency/evidence.ts';
import {
  alteredLeafMessage,
  alteredLeafWitness,
  exportEvidence,
  leafGapAt,
  leafGapMessage,
  tampered,
  TransparencyLogOfAnotherLog,
  unwitnessedDisagreement,
} from '../../../projections/transparency/index.ts';
import type { Credence } from '../../runtime/index.ts';
import { ACCESS } from '../auth/roles.ts';
import type { RouteModule } from '../context.ts';
import { mapRaisedError } from '../map-raised-error.ts';
import { HttpProblem } from '../problems.ts';
import { QueryWholeNumber } from '../query-values.ts';
import { refuseLongEntity } from './entity-bound.ts';
import { jsonBytesInTurns } from './json-in-turns.ts';
import { OneAtATime, whileTheClientWaits } from './one-at-a-time.ts';
import { refuseNamedPseudonymUnlessResolved, refusePseudonymsEventUnlessResolved, refuseUnlessResolved } from './pseudonym-reads.ts';
import { DecimalString, getEntityRoute, mustExist, StoredEventWire } from './wire.ts';

/**
 * The non-repudiation log over HTTP, in the very forms `credence verify` reads from files: the checkpoint as the
 * C2SP signed note, proofs as `InclusionProofJson` / `ConsistencyProofJson`, events as `RecordedEventWire`, and the
 * evidence bundle of `credence export`, so whatever is fetched here verifies offline with the log's key.
 */

const TreeSize = QueryWholeNumber(1, Number.MAX_SAFE_INTEGER);
const Hashes = z.array(z.string().describe('base64url SHA-256'));
const Note = z.string().describe('a C2SP signed note: text, a blank line, signature lines');

const InclusionWire = z.object({
  event: StoredEventWire,
  proof: z.object({ leafIndex: z.number().int(), treeSize: z.number().int(), hashes: Hashes }).describe('`credence verify --proof`'),
  checkpoint: Note.describe('the signed checkpoint the proof is against (`credence verify --checkpoint`)'),
});
const ConsistencyWire = z.object({
  proof: z.object({ first: z.number().int(), second: z.number().int(), hashes: Hashes }).describe('`credence verify --proof`'),
  from: Note.optional().describe('the signed checkpoint of tree size `first` (`credence verify --from`); absent when the log signed none of that size'),
  to: Note.describe('the signed checkpoint of tree size `second` (`credence verify --to`)'),
});
const EvidenceBundleWire = z
  .object({
    format: z.literal(EVIDENCE_BUNDLE_FORMAT),
    streamId: z.string(),
    logPublicKey: z.string().describe('signed-note verifier key of the log; pin your own copy when verifying'),
    checkpoint: Note,
    streamHead: Note.describe("the log's signed statement of how many events the stream had at the checkpoint"),
    entries: z.array(
      z.union([
        z.object({ event: StoredEventWire, leafIndex: z.number().int(), proof: Hashes }),
        z
          .object({
            withheld: z.object({
              reason: WithheldReason,
              position: DecimalString,
              revision: DecimalString,
              leafHash: z.string().describe('base64url SHA-256 leaf hash (RFC 9162) of the record, which its proof includes'),
            }),
            leafIndex: z.number().int(),
            proof: Hashes,
          })
          .describe("a record withheld (review 172): a fact claim naming a pseudonym, for an auditor who resolved it (GET /v1/transparency/proofs/inclusion?position=)"),
      ]),
    ),
  })
  .meta({ id: 'EvidenceBundle', description: 'what `credence export` writes and `credence verify FILE.json` checks' });

/**
 * Evidence bundles waiting behind the one being built. Each proves every event of its entity (up to
 * limits.maxEntityEvents), so they are built one at a time service-wide: several at once would share the same cores
 * and each hold its memory for as long (found in review: 33 MB and 7.8 s for one of 20,000 events).
 */
export const EVIDENCE_QUEUE = 8;
/**
 * Bundles one principal (its subject) may have built or waiting at once: one keeping the whole queue held every other
 * auditor at 429 `busy` (review 175). Past it that principal is refused as a full queue is, while others still queue.
 */
export const EVIDENCE_QUEUE_PER_PRINCIPAL = 2;
/** Retry-After of a full evidence queue: a bundle of a usual entity takes milliseconds; one at the bound some seconds. */
const EVIDENCE_RETRY_AFTER_SECONDS = 5;

type Log = NonNullable<Credence['transparencyLog']>;

const noLog = (): CredenceError =>
  new CredenceError({ code: 'not_found', streamId: 'transparency', message: 'this service keeps no transparency log (an in-memory instance)' });

/** The stored event a leaf logs, found through the log's stream index (or its position, for a leaf older than it). */
const eventOfLeaf = async (credence: Credence, leaf: LoggedLeaf): Promise<RecordedEvent | undefined> => {
  const candidates =
    leaf.stream !== undefined
      ? await credence.store.readStream(leaf.stream.streamId, { fromRevision: leaf.stream.revision, maxCount: 1 })
      : [];
  const found = candidates.find((e) => e.id === leaf.eventId);
  if (found !== undefined || leaf.position === 0n) return found;
  const at = await recordAtPosition(credence.store, leaf.position);
  return at?.id === leaf.eventId ? at : undefined;
};

/**
 * The refusal of a leaf whose event the store does not hold by the leaf's event id: the store's event at its position
 * is judged against the leaf as `disagreement` says (review 159: "the store does not hold that event" sent the operator
 * to an audit that blamed, or passed, the store); no event there, the store lost it.
 */
const leafWithoutItsEvent = async (credence: Credence, { log, signer }: Pick<Log, 'log' | 'signer'>, leaf: LoggedLeaf): Promise<CredenceError> => {
  const stored = leaf.position === 0n ? undefined : await recordAtPosition(credence.store, leaf.position);
  if (stored === undefined) return tampered(`the log recorded leaf ${leaf.leafIndex} at position ${leaf.position}, and the store does not hold that event`, 'inclusion proof');
  return disagreement(log, signer, leaf, stored);
};

/**
 * The refusal of a leaf of another application's record (review 193): on an EventStoreDB cluster shared with it the
 * log keeps a leaf for every record of $all, but that record is not Credence's to publish, so no proof of it is served
 * (it was, data and all), and one scavenged since is no tampering (it was the 422 above, while the audit passes over
 * it as `scavengedForeign`). Whose the leaf is, is the audit's word (`scavengedAway`: the log's own stream index, on a
 * store that is not gapless). 404 as the route's other "no event to prove here": the position is not a Credence event.
 */
const anotherApplicationsRecord = (leaf: LoggedLeaf, held: boolean): CredenceError =>
  new CredenceError({
    code: 'not_found',
    streamId: 'transparency',
    message:
      `position ${leaf.position} (leaf ${leaf.leafIndex}) is another application's record in the shared EventStoreDB cluster, not Credence's` +
      (held ? '' : ', since scavenged from it') +
      ': the log keeps its leaf, held to the signed checkpoints, but serves no proof of it',
  });

/**
 * The refusal of a leaf and the store's event at its position that disagree: the leaf row named as altered where the
 * log key vouches for the stored event (altered-leaf.ts, which opens the checkpoint under the key: a checkpoint row
 * rewritten without it made the route send the operator to restore transparency.db over an edited events.db, review
 * 164), else neither file named, and the audit, which reads every event, tells which.
 */
const disagreement = (log: Log['log'], signer: Log['signer'], leaf: LoggedLeaf, stored: RecordedEvent): CredenceError => {
  const witness = alteredLeafWitness(log, noteVerifierKey(signer.keyName, signer.publicKey), leaf, stored);
  return witness !== undefined ? tampered(alteredLeafMessage(leaf, witness), 'inclusion proof') : protocolError('inclusion proof', unwitnessedDisagreement(leaf.position));
};

/**
 * A stored event at `position` that no leaf logs while the log holds leaves past it: a leaf deleted from the log file
 * (its index missing) or an event added to the store. Either is the tamper refusal (422), never a 404 that reads as
 * "not logged yet" (review 159); undefined when the store holds no event there or the log has not reached it.
 */
const unloggedStoredEvent = async (credence: Credence, log: Log['log'], position: bigint): Promise<CredenceError | undefined> => {
  const last = log.lastPosition();
  if (last === undefined || last < position || (await recordAtPosition(credence.store, position)) === undefined) return undefined;
  const gap = leafGapAt(log, position);
  return tampered(gap !== undefined ? leafGapMessage(gap) : `the store holds an event at position ${position}, which the log never recorded`, 'inclusion proof');
};

/**
 * While the log key refuses to sign a log changed under the service, a route that reads the latest checkpoint answers
 * 503 in /readyz's public words: whatever checkpoint is left is no longer the log's latest word (review 372).
 */
const refuseWhileTheKeyRefuses = (projection: Pick<NonNullable<Credence['transparency']>, 'refusesToSign'>): void => {
  const refusal = projection.refusesToSign;
  if (refusal === undefined) return;
  const { status, code, detail } = mapRaisedError(refusal, 'read');
  throw new HttpProblem(status, code, `the log key refuses to sign: ${detail}`);
};

export const transparencyRoutes: RouteModule = (app, context) => {
  const { credence } = context;
  const use = (): { projection: NonNullable<Credence['transparency']> } & Log => {
    if (credence.transparency === undefined || credence.transparencyLog === undefined) throw noLog();
    return { projection: credence.transparency, ...credence.transparencyLog };
  };
  /** A signed checkpoint covering leaf `index`: the latest, or one signed now when the latest is older than the leaf. */
  const checkpointCovering = async (index: number): Promise<StoredCheckpoint> => {
    const { log, projection } = use();
    const latest = log.latestCheckpoint();
    return latest !== undefined && latest.treeSize > index ? latest : projection.checkpoint();
  };
  const evidenceQueue = new OneAtATime('evidence bundles', EVIDENCE_QUEUE, EVIDENCE_RETRY_AFTER_SECONDS, EVIDENCE_QUEUE_PER_PRINCIPAL);

  app.get('/v1/transparency/checkpoint', {
    config: { access: ACCESS.read },
    schema: {
      summary: 'The latest signed checkpoint',
      description:
        "The log's latest checkpoint as a C2SP signed note (origin, tree size, root hash, time; Ed25519 signature line). Signed on a schedule while the service runs. " +
        'While the log key refuses to sign a log changed under the service, 503 `transparency_log_altered` (as /readyz says), not whatever checkpoint is left.',
      tags: ['transparency'],
      response: { 200: { description: 'the signed note', content: { 'text/plain': { schema: Note } } } },
    },
    handler: async (_request, reply) => {
      const { log, projection } = use();
      // The log changed under the service (its checkpoints removed, or leaves altered): "none signed yet" was false, and
      // whatever checkpoint is left is no longer the log's latest word (review 372). In /readyz's public words.
      refuseWhileTheKeyRefuses(projection);
      const latest = log.latestCheckpoint();
      if (latest === undefined) throw new CredenceError({ code: 'not_found', streamId: 'transparency', message: 'the transparency log has no signed checkpoint yet' });
      return reply.type('text/plain; charset=utf-8').send(latest.note);
    },
  });

  app.get('/v1/transparency/proofs/inclusion', {
    config: { access: ACCESS.read },
    schema: {
      summary: 'Inclusion proof of one event',
      description:
        'The event at global `position`, its RFC 9162 inclusion proof and the signed checkpoint it is against (the latest; one is signed ' +
        'on demand when the latest predates the event). Save the three and run `credence verify --event --proof --checkpoint --key`. ' +
        "An event of a pseudonym's stream, or a fact claim a pseudonym's rotation made on another stream (EventStoreDB), is refused (403) " +
        "but to an auditor who recorded a resolution of that pseudonym. Another application's record on an EventStoreDB cluster shared with it, " +
        "which the log logs too, is not served (404, held or scavenged since): its content is not Credence's to publish. " +
        'While the log key refuses to sign a log changed under the service, 503 `transparency_log_altered`, as /checkpoint.',
      tags: ['transparency'],
      querystring: z.strictObject({ position: DecimalString.describe('global position of the event') }),
      response: { 200: InclusionWire },
    },
    handler: async (request) => {
      const { log, projection, signer } = use();
      // As /checkpoint and /consistency: a proof against whatever checkpoint is left (one rolled back) served it as the
      // log's latest word while the key refuses (review 418).
      refuseWhileTheKeyRefuses(projection);
      const position = BigInt(request.query.position);
      let leaf = log.leafByPosition(position);
      let event = leaf === undefined ? undefined : await eventOfLeaf(credence, leaf);
      // Not logged yet (or, on a stopped log, logged from another log): the log catches up first.
      if (event === undefined) {
        await projection.catchUp().catch((error: unknown) => {
          // Not a fault of this request: the log stopped and waits for the operator (README, "Restoring the event store").
          throw error instanceof TransparencyLogOfAnotherLog ? new HttpProblem(503, error.code, error.message, { reason: error.detail }) : error;
        });
        leaf = log.leafByPosition(position);
        event = leaf === undefined ? undefined : await eventOfLeaf(credence, leaf);
      }
      if (leaf === undefined) throw (await unloggedStoredEvent(credence, log, position)) ?? new CredenceError({ code: 'not_found', streamId: 'transparency', message: `no logged event at position ${position}` });
      if (scavengedAway(leaf, credence.store.gapless === true)) throw anotherApplicationsRecord(leaf, event !== undefined);
      // A leaf whose event the store no longer holds, or holds altered, is the evidence endpoint's refusal (422), never
      // a 404 that reads as "not logged" nor a proof served for an event the log never recorded (found in review).
      if (event === undefined) throw await leafWithoutItsEvent(credence, { log, signer }, leaf);
      // An event of a pseudonym's stream is served whole or not at all (its leaf hash covers every field), and a
      // rotation names the node behind the pseudonym (SER-025): only to an auditor who recorded a resolution of it. The
      // caller asked by position, so the refusal names no pseudonym (review 281: it named the one there).
      await refusePseudonymsEventUnlessResolved(context, request.principal, event.streamId);
      // A record of another stream that names a pseudonym (the fact claim its rotation left on the node's stream and on
      // its command id's on EventStoreDB) says the same: the node's bundle withholds it, and so does this (review 172).
      const named = pseudonymNamedBy(event);
      if (named !== undefined) await refuseNamedPseudonymUnlessResolved(context, request.principal, named);
      // As `credence verify --data` decides it where the log key vouches for the stored event; else neither file named.
      if (!constantTimeEqual(eventLeafHash(event), leaf.leafHash)) throw disagreement(log, signer, leaf, event);
      const checkpoint = await checkpointCovering(leaf.leafIndex);
      // Held to the signed root before it is served, as every proof of a bundle is (evidence.ts): one built from an
      // altered subtree hash was the client's `not_included`, the log accused of leaving the event out (review 372).
      const signed = signedCheckpointOf(checkpoint, noteVerifierKey(signer.keyName, signer.publicKey), `the checkpoint of tree size ${checkpoint.treeSize}`, 'inclusion proof');
      const hashes = provenInclusion(log, leaf, signed, `position ${leaf.position}`, 'inclusion proof');
      return {
        event: recordedEventToJson(event),
        proof: { leafIndex: leaf.leafIndex, treeSize: signed.treeSize, hashes: hashes.map(toBase64url) },
        checkpoint: checkpoint.note,
      };
    },
  });

  app.get('/v1/transparency/proofs/consistency', {
    config: { access: ACCESS.read },
    schema: {
      summary: 'Consistency proof from a tree size to a signed checkpoint',
      description:
        'Proves that the tree of size `to` (default: the latest checkpoint; a signed checkpoint\'s size) extends the tree of size `from`, ' +
        'any size up to it (RFC 9162 2.1.4): `from` is the note of a signed checkpoint of that size, absent when the log signed none. ' +
        'Save the proof and both notes and run `credence verify --from --to --proof --key`, or `credence verify --server --from SAVED`: ' +
        'a checkpoint kept from a log since forked (a data folder restored without a new log key) then fails `inconsistent`. ' +
        '`from` past the latest signed checkpoint is 404, naming its size. A proof that does not lead to the signed roots (a stored subtree hash ' +
        'altered) is refused (422), naming `credence verify --data`, as an inclusion proof is. ' +
        'While the log key refuses to sign a log changed under the service, 503 `transparency_log_altered`, as /checkpoint.',
      tags: ['transparency'],
      querystring: z.strictObject({ from: TreeSize.describe('tree size of the older tree'), to: TreeSize.optional().describe('tree size of the newer signed checkpoint') }),
      response: { 200: ConsistencyWire },
    },
    handler: async (request) => {
      const { log, signer, projection } = use();
      // As /checkpoint: "no signed checkpoint of tree size (latest)" was false while the key refuses (review 376).
      refuseWhileTheKeyRefuses(projection);
      const first = request.query.from;
      const to = request.query.to === undefined ? log.latestCheckpoint() : log.checkpointAt(request.query.to);
      if (to === undefined) throw new CredenceError({ code: 'not_found', streamId: 'transparency', message: `no signed checkpoint of tree size ${request.query.to ?? '(latest)'}` });
      if (first > to.treeSize) {
        if (request.query.to !== undefined) throw validationError([{ path: 'query.from', rule: 'order', message: `must not exceed the tree size of \`to\` (${to.treeSize})` }], 'query');
        throw new CredenceError({ code: 'not_found', streamId: 'transparency', message: `tree size ${first} is past the latest signed checkpoint (tree size ${to.treeSize})` });
      }
      // From any size, not only a signed one (review 198: a checkpoint an auditor kept from a log since forked, at a
      // size the restored log never signed, was a 404, never a fork). This weakens nothing: the proof vouches for no
      // root by itself; the client holds it to the root of its own signed checkpoint of size `first` and to `to`'s
      // signed root, so a proof from a size nobody signed convinces no one of anything (RFC 9162 2.1.4.2). Hashes a
      // proof carries are subtree hashes that inclusion proofs hand the same readers already.
      const from = log.checkpointAt(first);
      // Held to the signed roots before it is served: one built from an altered subtree hash was the client's
      // `inconsistent`, a fork, where a node row was damaged (review 372).
      const key = noteVerifierKey(signer.keyName, signer.publicKey);
      const signedTo = signedCheckpointOf(to, key, `the checkpoint of tree size ${to.treeSize}`, 'consistency proof');
      const signedFrom = from === undefined ? undefined : signedCheckpointOf(from, key, `the checkpoint of tree size ${first}`, 'consistency proof');
      const hashes = provenConsistency(log, first, signedFrom, signedTo);
      return {
        proof: { first, second: to.treeSize, hashes: hashes.map(toBase64url) },
        ...(from !== undefined ? { from: from.note } : {}),
        to: to.note,
      };
    },
  });

  getEntityRoute(
    app,
    '/v1/transparency/evidence/:kind/:id',
    {
      summary: 'Evidence bundle of one entity',
      description:
        "The entity's events, each with its inclusion proof against a signed checkpoint, and the log's signed stream head (the stream had " +
        'exactly these events there): the bundle of `credence export`. Verify it offline with `credence verify FILE.json --key KEY`. ' +
        "A pseudonym's is refused (403) but to an auditor who recorded a resolution of it. A fact claim that names a pseudonym (left on its " +
        "node's stream by a rotation on EventStoreDB) is in every bundle `withheld`: its leaf hash and proof, without the record. The bundle is whole or not served: an " +
        `entity of more than ${context.limits.maxEntityEvents} events is refused (422 \`entity_too_long\`, naming \`events\` and \`maxEvents\`; \`credence export --data\` ` +
        `builds it on the service host). Bundles are built one at a time; with ${EVIDENCE_QUEUE} waiting, or ${EVIDENCE_QUEUE_PER_PRINCIPAL} of the caller's built or waiting, another is refused (429 \`busy\`, Retry-After).`,
      tags: ['transparency'],
      response: EvidenceBundleWire,
    },
    async ({ streamId, kind }, _query, reply) => {
      const { log, signer, projection } = use();
      // Whole events or no evidence: a bundle with the node left out would not verify (SER-016, SER-025). Refused before
      // its existence is read, so a pseudonym made up and a real one are answered alike (review 409).
      await refuseUnlessResolved(context, reply.request.principal, streamId);
      await mustExist(context, streamId, kind);
      // The bundle is verified offline as one file, so it is never paged: an entity too long for one request is refused.
      await refuseLongEntity(context, streamId, 'build its bundle on the service host with `credence export --data` (no bound), or read its history in pages (GET /v1/entities/{kind}/{id}/timeline?limit=)');
      // Each principal to its share of the queue (every caller here has one: the route takes a token), and only while
      // it waits for the bundle: a fetch abandoned gives its place back (review 181).
      const caller = reply.request.principal?.subject ?? `address:${reply.request.ip}`;
      // Turned into JSON in the job, in turns, and sent as that text: the bundle is the domain's own encoding
      // (EvidenceBundleSchema, stricter than EvidenceBundleWire, which stays for the OpenAPI document), and encoding
      // it again through the route's schema, then stringifying 12 MB, at the bound held the event loop (review 242).
      const bytes = await whileTheClientWaits(reply.request.raw, reply.raw, (signal) =>
        evidenceQueue.run(async () => jsonBytesInTurns((await exportEvidence({ streamId, store: credence.store, projection, log, signer })).bundle, 'entries'), caller, signal),
      );
      // Bytes are sent as they are, past the route's serializer, with the media type set here.
      return reply.type('application/json; charset=utf-8').send(bytes) as unknown as z.infer<typeof EvidenceBundleWire>;
    },
  );
};
