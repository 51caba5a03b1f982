import { replayRefusal } from './refusal-reason.ts';
import { boundedReason } from './finding-reason.ts';
import { commandRecordedAgain, recordedByAnotherCommand } from './command-records.ts';
import { CommandIds, type CommandRecords } from './command-ids.ts';
import { findingCauses, type TalliedFinding, type Unrecorded } from './finding-causes.ts';
import { factClaimOf, isFactClaim } from '../../domain/fact-claims.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { isEventType } from '../../domain/events/index.ts';
import { byPosition } from '../../domain/positions.ts';
import { decodeStored } from '../../domain/stored.ts';
import { ENTITY_KINDS, parseStreamId, streamIdOf, type EntityKind, type EntityView } from '../../domain/streams.ts';
import { evaluate, gatherFacts, initialSnapshot, machineEvent, readStored, stateOf, viewOf } from '../../machines/index.ts';
import type { EntitySnapshot, FactReader, KeyHolderReader } from '../../machines/index.ts';
import { CertifiedKeys } from './certified-keys.ts';
import type { Finding } from './finding.ts';
import type { FactViews } from './fact-views.ts';
import type { ReadForJudging } from './judged-event.ts';
import { FOREIGN_CLAIM } from './foreign-claims.ts';
import { stateOfEntity, type VerifiedEntity } from './restored-entity.ts';

export interface KindSummary {
  entities: number;
  events: number;
  /** Entities per final state after replay. */
  states: Record<string, number>;
}

export interface FleetReplay {
  /** Stored events read (fact claims, the store's concurrency markers, are not counted). */
  readonly events: number;
  readonly kinds: Record<EntityKind, KindSummary>;
  /** Events in streams that are not entity streams (other tools' streams); not replayed. */
  readonly foreignEvents: number;
  readonly findings: readonly Finding[];
  readonly brokenStreams: readonly string[];
}

/** The facts one command of a claimant saw at its claims (domain/fact-claims.ts), held until the claimant moves on. */
export interface HeldClaims {
  commandId: string;
  readonly views: Map<string, EntityView | undefined>;
}

/** A stream that is no entity's (EventStoreDB binds command ids to streams on such streams, with claim markers). */
const isBindingStream = (streamId: string, entry: VerifiedEntity | undefined): boolean => entry === undefined && parseStreamId(streamId) === undefined;

/** A command binding's data (a claim naming its claimant and command), whatever the length of the ids. */
const isCommandBinding = (data: unknown): boolean => {
  const { claimant, commandId } = data as { claimant?: unknown; commandId?: unknown };
  return typeof claimant === 'string' && claimant.length > 0 && typeof commandId === 'string' && commandId.length > 0;
};

/** What replay says of a record whose revision is at or below one its stream already reached (`#sequence`). */
const brokenOrder = (revision: bigint, last: bigint): string => `revision ${revision} after revision ${last}: the stream's order is broken`;
const BROKEN_ORDER = /^revision (0|[1-9][0-9]*) after revision (0|[1-9][0-9]*): the stream's order is broken$/;
/** Whether `f` is that finding: its words, and the revision they name its own. */
const isBrokenOrder = (f: Finding): boolean => BROKEN_ORDER.exec(f.reason)?.[1] === f.revision.toString(10);

/**
 * Where a finding comes among those of its record, as one thread tallies them (`apply`), and the one entity's replay
 * too (entity.ts): a foreign claim, then the stream's order, then anything the record was found to be after it.
 */
const rankAtItsRecord = (f: Finding): number => (f.reason === FOREIGN_CLAIM ? 0 : isBrokenOrder(f) ? 1 : 2);

/**
 * Findings in global order, those of one record as one thread tallies them. Workers find two of one record in
 * different partitions (a fact claim is judged in its claimant's, ordered in its stream's), and their tallies are
 * merged partition by partition: without the rank the two came out either way round (review 284).
 */
const orderOfFindings = (a: Finding, b: Finding): number => byPosition(a, b) || rankAtItsRecord(a) - rankAtItsRecord(b);

/** A finding at `r`, its reason bounded as the one entity's replay bounds it (finding-reason.ts; entity.ts alike). */
export const findingAt = (r: RecordedEvent, reason: string): Finding => ({
  streamId: r.streamId, position: r.position, revision: r.revision, type: r.type, reason: boundedReason(reason),
});

/** A record of an entity stream that is not applied because the record itself is at fault: what follows on it may follow from it. */
const RECORD_AT_FAULT: Unrecorded = { by: 'record', reads: [], absent: [] };

/** What the verifier has counted so far, without the entities themselves. */
export interface VerifierTally {
  events: number;
  foreignEvents: number;
  readonly entitiesPerKind: Record<EntityKind, number>;
  readonly eventsPerKind: Record<EntityKind, number>;
  readonly findings: TalliedFinding[];
}

export const emptyTally = (): VerifierTally => ({
  events: 0,
  foreignEvents: 0,
  entitiesPerKind: Object.fromEntries(ENTITY_KINDS.map((k) => [k, 0])) as Record<EntityKind, number>,
  eventsPerKind: Object.fromEntries(ENTITY_KINDS.map((k) => [k, 0])) as Record<EntityKind, number>,
  findings: [],
});

/**
 * The fleet verdict, one stored record at a time in global order: every event through its entity's machine with
 * every guard, cross-entity facts read from `views` as of the event's position (by default the verifier's own
 * entities, which a pass over the whole log holds exactly as they stood). Synchronous and allocation-lean: the
 * caller feeds records from any source (a store page, a worker's partition, the tail after a checkpoint).
 */
export class FleetVerifier {
  readonly entities: Map<string, VerifiedEntity>;
  /**
   * Fact claims by claimant, then by the command that made them: each decision is judged against its own claims,
   * never against a later command's for the same claimant (one that crashed before appending, or lost its race).
   */
  readonly claims: Map<string, Map<string, HeldClaims>>;
  readonly tally: VerifierTally;
  /** Position of the last record applied. */
  position: bigint;
  /**
   * Fact claims are no part of this log's writes: its store checks facts inside each append (the embedded store,
   * `EventStore.factChecksWriteNothing`), so a claim found is a finding, never a fact a decision is judged against.
   * `verifyFrom` sets it from the store it reads.
   */
  claimsForeign: boolean;
  readonly #views: FactViews;
  /** Keys certified so far (SER-010), for the default views: a pass over the whole log holds them as they stood. */
  readonly #keys = new CertifiedKeys();
  // The event being judged, read by the one fact reader below (no closure per event).
  #heldClaims: HeldClaims | undefined;
  #position = 0n;
  /** The entity streams the event being judged read facts of, kept for its finding if refused (finding-causes.ts). */
  readonly #reads: string[] = [];
  /** Of #reads, those replay held no entity of (Unrecorded.absent). */
  readonly #absent: string[] = [];
  /** The last revision seen of entity streams with no entity (yet): fact claims on a fact that has no event before them. */
  readonly revisions: Map<string, bigint>;
  /**
   * Whether a command id was recorded before, store-wide (review 420): by default every id this verifier has seen
   * (CommandIds, kept in a checkpoint); a replay worker's, the records the pool found recorded again across partitions.
   */
  readonly commands: CommandRecords;

  constructor(
    options: {
      views?: FactViews;
      claimsForeign?: boolean;
      state?: {
        entities: Map<string, VerifiedEntity>;
        claims: Map<string, Map<string, HeldClaims>>;
        tally: VerifierTally;
        position: bigint;
        revisions?: Map<string, bigint>;
        commands?: CommandIds;
      };
      commands?: CommandRecords;
    } = {},
  ) {
    this.entities = options.state?.entities ?? new Map();
    this.revisions = options.state?.revisions ?? new Map();
    this.commands = options.commands ?? options.state?.commands ?? new CommandIds();
    this.claims = options.state?.claims ?? new Map();
    this.tally = options.state?.tally ?? emptyTally();
    this.position = options.state?.position ?? 0n;
    this.claimsForeign = options.claimsForeign ?? false;
    this.#views = options.views ?? {
      viewBefore: (streamId) => {
        const other = this.entities.get(streamId);
        return other === undefined ? undefined : viewOf(other.snapshot);
      },
      keyHolderBefore: (fingerprint, position) => this.#keys.holderBefore(fingerprint, position),
    };
    // Restored (a checkpoint, a worker's state): the keys its credentials were issued on, certified before what follows.
    if (options.state !== undefined) this.#keys.certifyEntities(this.entities.values());
  }

  readonly #read: FactReader = (kind, id) => {
    const streamId = streamIdOf(kind, id);
    this.#reads.push(streamId);
    const held = this.#heldClaims;
    const view = held !== undefined && held.views.has(streamId) ? held.views.get(streamId) : this.#views.viewBefore(streamId, this.#position);
    // None, or one no event of it was accepted into (a worker's fact timeline has none, one thread its initial state).
    if (view === undefined || view.state === stateOf(initialSnapshot(kind))) this.#absent.push(streamId);
    return view;
  };

  /** The credential that certified a key before the event being judged (SER-010, keyNeverCertified). */
  readonly #keyHolder: KeyHolderReader = (fingerprint) => this.#views.keyHolderBefore(fingerprint, this.#position);

  /**
   * Judges one record. `decoded` is the record already read through `readStored` (a worker decodes once for two
   * passes); it is read here otherwise. Returns whether the record changed its entity (an accepted event).
   */
  apply(record: RecordedEvent, decoded?: ReadForJudging, orderClaim = true): boolean {
    this.position = record.position;
    const tally = this.tally;
    if (isFactClaim(record)) {
      const entry = this.entities.get(record.streamId);
      if (this.claimsForeign) {
        // On a log whose store checks a decision's facts in its own transaction, no writer of Credence's made it: it
        // would vouch for a forged decision against a fact as it stood when planted (found in review: a claim written
        // before a revocation let an association on the revoked credential pass weeks later). Its stream's order is
        // kept after, on any stream (no binding of EventStoreDB's is here): the findings' order (orderOfFindings).
        tally.findings.push(findingAt(record, FOREIGN_CLAIM));
        if (orderClaim) this.#sequence(record, entry);
        return false;
      }
      // A claim on a stream that is no entity's is EventStoreDB's binding of a command id to its stream (append.ts),
      // no fact of a decision: nothing to keep per command, only its shape to check (its ids may be of any length).
      if (isBindingStream(record.streamId, entry)) {
        if (!isCommandBinding(record.data)) tally.findings.push(findingAt(record, 'unreadable: malformed fact claim'));
        return false;
      }
      if (orderClaim) this.#sequence(record, entry);
      this.#claim(record);
      return false;
    }
    tally.events++;
    let entry = this.entities.get(record.streamId);
    if (entry === undefined) {
      const ref = parseStreamId(record.streamId);
      if (ref === undefined) {
        // Another tool's event is foreign, whatever its type is called; a lifecycle event there (one that reads as
        // the Credence event its type names) is one the engine could not have written, and one a reader might take
        // for a fact of the entity it names.
        const read = isEventType(record.type) ? decodeStored(record) : undefined;
        if (read !== undefined && !read.ok && read.misplaced === true) {
          tally.findings.push(findingAt(record, `${record.type} is stored outside an entity stream`));
        } else tally.foreignEvents++;
        return false;
      }
      entry = { kind: ref.kind, id: ref.id, snapshot: initialSnapshot(ref.kind) };
      this.entities.set(record.streamId, entry);
      tally.entitiesPerKind[ref.kind]++;
    }
    tally.eventsPerKind[entry.kind]++;
    this.#sequence(record, entry);
    const read = decoded ?? readStored(record);
    if (read.ok === 'claim') return false;
    if (!read.ok) {
      tally.findings.push({ ...findingAt(record, read.reason), unrecorded: RECORD_AT_FAULT });
      return false;
    }
    const { event, at, metadata } = read.value;
    const { commandId } = metadata;
    // A command is one event (domain/commands/decide.ts), appended once, its id bound to that append store-wide; the
    // claims made for it (fact-claims.ts) are its alone. A later event under a command id any earlier record holds is
    // one the engine could not have written (it deduplicates a repeated command), and must not be judged against the
    // facts as they stood at the old claims: even next to it and with its metadata copied (found in review: a second
    // event was read as part of the first's append), on its stream after another command, or on another stream (review
    // 420: only the stream's last command id was compared).
    const afterItsOwn = entry.lastCommandId === commandId;
    if (this.commands.recordedBefore(commandId, record.position) || afterItsOwn) {
      tally.findings.push({ ...findingAt(record, commandRecordedAgain(commandId, afterItsOwn)), unrecorded: RECORD_AT_FAULT });
      return false;
    }
    entry.lastCommandId = commandId;
    const claimed = this.claims.get(record.streamId);
    // The claimant moved on with this command: its claims are taken by this event, and the others' are leftovers
    // (a command that crashed before appending, or lost its race; a retry claims afresh).
    if (claimed !== undefined) this.claims.delete(record.streamId);
    // An event of another type than its command type records is no record of that command (review 234): not applied.
    // Its id stays taken and its stream moved on, as the store holds it (the one entity's replay, entity.ts, alike).
    const another = recordedByAnotherCommand(event.type, metadata.commandType);
    if (another !== undefined) {
      tally.findings.push({ ...findingAt(record, another), unrecorded: RECORD_AT_FAULT });
      return false;
    }
    this.#heldClaims = claimed?.get(commandId);
    this.#position = record.position;
    this.#reads.length = 0;
    this.#absent.length = 0;
    const facts = gatherFacts(event, entry.snapshot.context, this.#read, this.#keyHolder);
    this.#heldClaims = undefined;
    const verdict = evaluate(entry.kind, entry.snapshot, machineEvent(event, at, facts));
    if (verdict.ok) {
      entry.snapshot = verdict.snapshot;
      if (event.type === 'CredentialIssued') this.#keys.certify(event.data.fingerprint, entry.id, record.position);
      return true;
    }
    const { reason, ...rule } = replayRefusal(event.type, verdict);
    tally.findings.push({ ...findingAt(record, reason), ...rule, unrecorded: { by: 'refusal', reads: [...this.#reads], absent: [...this.#absent] } });
    return false;
  }

  /**
   * A fact claim judged by another verifier (a worker's partition), on a stream this one holds: only the order of the
   * stream's revisions is kept and checked (`#sequence`), with the entity's own events here.
   */
  orderClaim(record: RecordedEvent): void {
    const entry = this.entities.get(record.streamId);
    // As `apply` keeps it: a foreign claim moves its stream's order whatever the stream (found in review 284: two
    // workers missed a claim's revision below the last on a stream of no entity, which one thread flagged).
    if (!this.claimsForeign && isBindingStream(record.streamId, entry)) return;
    this.#sequence(record, entry);
  }

  /**
   * Holds each stream's revisions to global order, as the store appends them: a revision at or below one already seen
   * is a stream whose order the engine (which reads a stream by revision) and replay (by position) would not agree on.
   * Gaps are not judged: a store may drop a stream's oldest records (EventStoreDB truncating and scavenging).
   */
  #sequence(record: RecordedEvent, entry: VerifiedEntity | undefined): void {
    const last = entry?.lastRevision ?? this.revisions.get(record.streamId);
    if (last !== undefined && record.revision <= last) {
      this.tally.findings.push(findingAt(record, brokenOrder(record.revision, last)));
      // The entity keeps the newest revision its stream reached, so a checkpoint holds it (with its last command).
      if (entry !== undefined) entry.lastRevision = last;
      return;
    }
    if (entry !== undefined) entry.lastRevision = record.revision;
    else this.revisions.set(record.streamId, record.revision);
  }

  /** A fact claim: the claimant's next decision is judged against the fact as it stood here. */
  #claim(record: RecordedEvent): void {
    const claim = factClaimOf(record);
    if (claim === undefined) {
      this.tally.findings.push(findingAt(record, 'unreadable: malformed fact claim'));
      return;
    }
    let claimed = this.claims.get(claim.claimant);
    if (claimed === undefined) this.claims.set(claim.claimant, (claimed = new Map()));
    let held = claimed.get(claim.commandId);
    if (held === undefined) claimed.set(claim.commandId, (held = { commandId: claim.commandId, views: new Map() }));
    held.views.set(record.streamId, this.#views.viewBefore(record.streamId, record.position));
  }

  /** The verdict so far: counts per kind and final state, every finding in global order. */
  verdict(): FleetReplay {
    return summarise(this.tally, this.entities.values());
  }
}

/** Counts per kind and state and the broken streams, from a tally and the entities as they ended. */
export const summarise = (tally: VerifierTally, entities: Iterable<{ kind: EntityKind; snapshot: EntitySnapshot }>): FleetReplay => {
  const kinds = Object.fromEntries(
    ENTITY_KINDS.map((k) => [k, { entities: tally.entitiesPerKind[k], events: tally.eventsPerKind[k], states: {} }]),
  ) as Record<EntityKind, KindSummary>;
  for (const entity of entities) {
    const { kind } = entity;
    const state = stateOfEntity(entity);
    kinds[kind].states[state] = (kinds[kind].states[state] ?? 0) + 1;
  }
  // Which refusals follow from an earlier finding is decided here, over every finding in order, so that a verdict of
  // workers or from a checkpoint (the same tallied findings) says it as one pass does.
  const findings = findingCauses([...tally.findings].sort(orderOfFindings));
  return { events: tally.events, kinds, foreignEvents: tally.foreignEvents, findings, brokenStreams: [...new Set(findings.map((f) => f.streamId))] };
};
