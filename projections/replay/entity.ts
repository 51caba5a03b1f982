import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { replayRefusal } from './refusal-reason.ts';
import { boundedReason, quotedFinding, refusalWithBrokenFacts } from './finding-reason.ts';
import { commandRecordedAgain, recordedByAnotherCommand } from './command-records.ts';
import { factClaimOf, isFactClaim } from '../../domain/fact-claims.ts';
import { keyHolderIn } from '../../domain/certified-keys.ts';
import { parseStreamId, streamIdOf, type EntityKind } from '../../domain/streams.ts';
import { evaluate, gatherFactsAsync, initialSnapshot, machineEvent, readStored, stateOf, viewOf, type EntitySnapshot } from '../../machines/index.ts';
import type { EntityView } from '../../machines/index.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { entityStreamPages } from '../../domain/ports/entity-stream-pages.ts';
import { byPosition } from '../../domain/positions.ts';
import { FactTimeline } from './fact-timeline.ts';
import { claimsAreForeign, FOREIGN_CLAIM } from './foreign-claims.ts';
import { entityFindingCauses, unrecordedOnItsStream, type TalliedFinding, type Unrecorded } from './finding-causes.ts';
import type { Finding } from './finding.ts';

export type { Finding, FindingRef } from './finding.ts';

/** One stored event as the auditor sees it: what it was, who did it, and the state after it. */
export interface ReplayStep {
  readonly position: bigint;
  readonly revision: bigint;
  readonly type: string;
  readonly occurredAt?: string;
  readonly actor?: string;
  readonly causationId?: string;
  readonly accepted: boolean;
  /** State after the event (unchanged when the event was refused). */
  readonly state: string;
  readonly reason?: string;
  /**
   * An accepted event that read a fact whose own history is broken before it: which, and where. The fleet replay
   * accepts it too and flags the fact's stream; the one entity's timeline says what its decision stood on.
   */
  readonly brokenFacts?: readonly string[];
  /**
   * What an accepted event said that its auditor reads (review 237: a revocation and its raise were two identical
   * lines): its fields of STEP_FIELDS only, a reason, a rotation's successor and overlap end, a successor's
   * predecessor. Never a key, an owner, or a pseudonym's value or node (no field here holds one).
   */
  readonly data?: Readonly<Record<string, string>>;
  /** An accepted event that changed the reason of an entity revoked already (a raise to keyCompromise): the reason before. */
  readonly raisedFrom?: string;
}

/** The event fields a step carries (`data`): each a reason, an id of a credential or subscription, or an instant. */
const STEP_FIELDS = ['reason', 'predecessorId', 'successorId', 'overlapEndsAt', 'replaces', 'subscriptionId'] as const;

const stepData = (data: unknown): { data?: Record<string, string> } => {
  const fields = data as Record<string, unknown>;
  const said = Object.fromEntries(STEP_FIELDS.flatMap((name) => (typeof fields[name] === 'string' ? [[name, fields[name]]] : [])));
  return Object.keys(said).length > 0 ? { data: said } : {};
};

/** The reason an entity revoked before and after `after` had before it, when `after` changed it (a raise). */
const raisedFrom = (before: EntitySnapshot, after: EntitySnapshot): { raisedFrom?: string } => {
  const was = (before.context as { revocationReason?: unknown }).revocationReason;
  const now = (after.context as { revocationReason?: unknown }).revocationReason;
  return stateOf(before) === 'revoked' && typeof was === 'string' && now !== was ? { raisedFrom: was } : {};
};

export interface EntityReplay {
  readonly streamId: string;
  readonly kind: EntityKind;
  readonly steps: readonly ReplayStep[];
  readonly state: string;
  readonly verdict: { readonly ok: true } | { readonly ok: false; readonly findings: readonly Finding[] };
}

/** The claimant's decision a fact claim must be for: its command, and where its previous append (another command) ended. */
interface Claimant {
  readonly streamId: string;
  readonly commandId: string;
  /** Claims at or before this position were taken, or left behind, by an earlier append of the claimant. */
  readonly after: bigint;
  /** The store writes no claims (`claimsAreForeign`): none vouches for anything. */
  readonly foreign: boolean;
}

/**
 * Another entity as it stood just before `position`, or, when the decision claimed it first (a fact claim by the
 * same command for the same claimant since the claimant's previous append, domain/fact-claims.ts), as it stood at its
 * latest such claim. A claim made before the claimant appended another command was that command's leftover, and
 * vouches for nothing later, as in the fleet replay (found in review: it vouched for a decision after a revocation).
 * The other entity is replayed with every guard of its own through that point, and stands where its accepted events
 * leave it, as the fleet replay takes it: an event of it the machines would not accept is reported as a broken
 * dependency, and never counts (found in review: a fact taken as absent once its stream had a finding let a guard
 * that passes on an absent fact, the factory key's, pass where the fleet replay refused).
 */
const viewBefore = async (kind: EntityKind, id: string, position: bigint, claimant: Claimant, replays: Replays): Promise<{ view: EntityView | undefined; broken?: string }> => {
  const streamId = streamIdOf(kind, id);
  let records = await replays.recordsBefore(streamId, position);
  const claimedAt = claimant.foreign ? -1 : records.findLastIndex((r) => {
    const claim = factClaimOf(r);
    return claim !== undefined && r.position > claimant.after && claim.claimant === claimant.streamId && claim.commandId === claimant.commandId;
  });
  if (claimedAt >= 0) records = records.slice(0, claimedAt);
  if (records.length === 0) return { view: undefined };
  const last = records.at(-1)!.position;
  const replay = await replays.through(streamId, last);
  const broken = describeBroken(streamId, replay.findings[0], last);
  const view = replays.views.viewBefore(streamId, last + 1n);
  return broken === undefined ? { view } : { view, broken };
};

const describeBroken = (streamId: string, finding: Finding | undefined, position: bigint): string | undefined =>
  finding !== undefined && finding.position <= position ? `${streamId} has a broken history at position ${finding.position}: ${quotedFinding(finding.reason)}` : undefined;

/**
 * Records read per store request, and events judged, between two turns of the event loop (a macrotask: a microtask
 * lets no timer or I/O run). Found in review 242's follow-up: an entity at the bound (10,000 events) read whole and
 * judged with awaits that never left the microtask queue held the loop 200 to 330 ms in one block, /healthz and every
 * other request waiting behind it (as the fleet replay did before its pages took turns, all.ts). A few hundred events
 * are a few milliseconds.
 */
const RECORDS_PER_READ = 500;
const STEPS_PER_TURN = 250;

/**
 * Every record of `streamId`, as `store.readStream(streamId)` gives them, read RECORDS_PER_READ at a time with a turn
 * of the event loop between reads; a stream truncated between two reads fails as one read of it would
 * (entity-stream-pages.ts, review 254).
 */
export const readStreamInTurns = async (store: Pick<EventStore, 'readStream'>, streamId: string): Promise<RecordedEvent[]> => {
  const records: RecordedEvent[] = [];
  for await (const page of entityStreamPages(store, streamId, RECORDS_PER_READ, yieldToLoop)) records.push(...page);
  return records;
};

/**
 * One stream replayed with every guard, as far as it has gone: the next record to judge, the entity so far, its
 * findings in order and its view after each event it accepted.
 */
interface StreamReplay {
  readonly streamId: string;
  readonly kind: EntityKind;
  /** The records read so far, in global order from `next` on (review 420: read only as far as a reader needs). */
  readonly records: RecordedEvent[];
  /** The stream's pages still to read, in revision order; undefined once it was read to its end. */
  pages: AsyncGenerator<readonly RecordedEvent[], void, undefined> | undefined;
  /** The highest position read so far. */
  readPast: bigint;
  /**
   * A record was read at a position below one read before it (a later revision at an earlier position): the stream's
   * order is broken, and it is read to its end, as it was read whole before (review 420).
   */
  outOfOrder: boolean;
  /** Reads of the stream, one page after another. */
  reading: Promise<void>;
  next: number;
  /** The highest position judged so far. */
  judgedPast: bigint;
  /** The command ids of the events judged so far (review 420: any earlier one, not only the last). */
  readonly commandIds: Set<string>;
  /** Being advanced now: a read of it then is of an earlier position (a cycle), which it has judged already. */
  advancing: boolean;
  /** The record at `next` is being judged (its reads of facts may read this stream on meanwhile). */
  judging: boolean;
  snapshot: EntitySnapshot;
  /** The highest revision judged so far, and the last event's command id and position. */
  highestRevision: bigint | undefined;
  last: { commandId: string; position: bigint } | undefined;
  readonly steps: ReplayStep[];
  /** With what each left unrecorded, for findingCauses once the entity is replayed. */
  readonly findings: TalliedFinding[];
}

/**
 * The streams one entity replay reads, each read once and replayed once, lazily, only as far as a reader needs it. A
 * fact is read as it stood before the reading event's position, and judging it there reads its own facts before
 * earlier positions still: positions only go down, so a cycle (a predecessor's rotation reads its successor, whose
 * issuance reads the predecessor back) always finds what it reads judged already, and every answer is exact. (Found
 * in review: streams judged whole, a cycle answered by a rebuild that skipped guards, and a forged cycle of a few
 * hundred events took minutes.)
 */
class Replays {
  readonly #replays = new Map<string, StreamReplay>();
  /** Each stream's view after each event it accepted, in global order: a fact's view before a position. */
  readonly views = new FactTimeline();
  readonly #foreign: boolean;
  /** Events judged so far, of every stream this replay reads: the loop turns every STEPS_PER_TURN (nested reads count). */
  #judged = 0;
  /** Records read so far: its own stream's, and the lifecycle events of the fact streams (review 420: held to `#maxRecords`). */
  #read = 0;
  constructor(
    private readonly store: EventStore,
    private readonly entity: string,
    private readonly maxRecords: number | undefined,
  ) {
    this.#foreign = claimsAreForeign(store);
  }

  /** The findings of every stream judged so far, in global order (a stream's own in the order judged). */
  findings(): TalliedFinding[] {
    return [...this.#replays.values()].flatMap((r) => r.findings).sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  }

  /**
   * The records of `streamId` before `position`, in global order: read only up to it (a page past it), not whole
   * (review 420: a credential's replay of two steps read all 200,002 records of its node).
   */
  async recordsBefore(streamId: string, position: bigint): Promise<RecordedEvent[]> {
    const replay = this.replayOf(streamId);
    await this.#readThrough(replay, position - 1n);
    const before = replay.records.filter((r) => r.position < position);
    return replay.outOfOrder ? before.sort(byPosition) : before;
  }

  replayOf(streamId: string): StreamReplay {
    let replay = this.#replays.get(streamId);
    if (replay === undefined) {
      const ref = parseStreamId(streamId);
      if (ref === undefined) throw new RangeError(`not an entity stream: ${streamId} (expected <kind>-<id>)`);
      // In global order, as the fleet replay judges it: "before a position" is then a prefix of the stream (found in
      // review: read by revision, a stream out of order was judged only partway). Read RECORDS_PER_READ at a time, with
      // a turn of the event loop between reads; a stream truncated between two reads fails as one read of it would
      // (entity-stream-pages.ts, review 254).
      replay = {
        streamId, kind: ref.kind, records: [], pages: entityStreamPages(this.store, streamId, RECORDS_PER_READ, yieldToLoop), readPast: -1n,
        outOfOrder: false, reading: Promise.resolve(), next: 0, judgedPast: -1n, commandIds: new Set(),
        advancing: false, judging: false, snapshot: initialSnapshot(ref.kind, ref.id), highestRevision: undefined, last: undefined, steps: [], findings: [],
      };
      this.#replays.set(streamId, replay);
    }
    return replay;
  }

  /**
   * Reads `replay`'s stream on until a record past `position` was read (to its end when undefined): in revision order,
   * which is global order on a stream whose order holds, so nothing before `position` is left unread. A stream found
   * out of order is read to its end.
   */
  async #readThrough(replay: StreamReplay, position: bigint | undefined): Promise<void> {
    while (replay.pages !== undefined && (position === undefined || replay.outOfOrder || replay.readPast <= position)) {
      await (replay.reading = replay.reading.then(() => this.#readPage(replay)));
    }
  }

  async #readPage(replay: StreamReplay): Promise<void> {
    if (replay.pages === undefined) return;
    const page = await replay.pages.next();
    if (page.done === true) {
      replay.pages = undefined;
      return;
    }
    // Its own stream's records all count (as the whole-stream bound counts them); a fact stream's lifecycle events only:
    // on EventStoreDB a subscription's stream holds a claim per node enrolled, and every node's replay reads it (review
    // 423: ordinary nodes under a subscription of some 20,000 nodes were refused).
    this.#read += replay.streamId === this.entity ? page.value.length : page.value.filter((r) => !isFactClaim(r)).length;
    if (this.maxRecords !== undefined && this.#read > this.maxRecords) {
      throw new EntityReplayReadsTooMuch(this.entity, replay.streamId, this.#read, this.maxRecords);
    }
    for (const record of page.value) {
      if (record.position < replay.readPast) replay.outOfOrder = true;
      else replay.readPast = record.position;
    }
    replay.records.push(...page.value);
    if (!replay.outOfOrder) return;
    // Sorted from the next record to judge on (the one being judged stays where it is): a record read now below one
    // judged already is judged late, and flagged so (#judge).
    const from = replay.next + (replay.judging ? 1 : 0);
    // Put back one by one: spread into one call, a stream of more than ~125,000 records threw RangeError (review 423).
    for (const record of replay.records.splice(from).sort(byPosition)) replay.records.push(record);
  }

  /** The stream judged through its records at or before `position` (all of them when undefined), or while `until` holds. */
  async through(streamId: string, position: bigint | undefined, until?: (r: RecordedEvent) => boolean): Promise<StreamReplay> {
    const replay = this.replayOf(streamId);
    if (replay.advancing) return replay;
    replay.advancing = true;
    try {
      await this.#readThrough(replay, position);
      while (replay.next < replay.records.length) {
        const record = replay.records[replay.next]!;
        if ((position !== undefined && record.position > position) || (until !== undefined && !until(record))) break;
        replay.judging = true;
        try {
          await this.#judge(replay, record);
        } finally {
          replay.judging = false;
        }
        replay.next++;
        // The state of every stream is kept between turns: a record appended meanwhile is at a later position, which
        // no judgment here reads (each reads before its own position).
        if (++this.#judged % STEPS_PER_TURN === 0) await yieldToLoop();
      }
    } finally {
      replay.advancing = false;
    }
    return replay;
  }


  /**
   * SER-010 (keyNeverCertified): the credential whose issue of `fingerprint` replay recorded first before `position`,
   * as the fleet replay's index of recorded issues names it. The store's first issuer (`keyCertifiedBy`, one read)
   * answers almost always; when its issue stood unrecorded here (refused, say its node never existed; or an
   * EventStoreDB claim whose append failed), the next issuers in log order are tried (`keyIssuers`), or the one entity's
   * replay passed an issue the fleet replay refuses (review 201). The claimant's own issue comes first only when none
   * stood before it. Asked `readOnly`: a read command writes nothing, so a store that completes its index before it
   * certifies keys (EventStoreDB's key claims) answers from reads here (review 204).
   */
  async #keyHolderBefore(fingerprint: string, position: bigint, claimant: Claimant): Promise<string | undefined> {
    const first = await keyHolderIn({ keyCertifiedBy: async (key) => this.store.keyCertifiedBy?.(key, { readOnly: true }) })(fingerprint);
    if (first === undefined || streamIdOf('credential', first) === claimant.streamId) return undefined;
    if (await this.#issuedBefore(first, fingerprint, position, claimant)) return first;
    for (const streamId of (await this.store.keyIssuers?.(fingerprint)) ?? []) {
      const ref = parseStreamId(streamId);
      if (ref?.kind !== 'credential' || ref.id === first || streamId === claimant.streamId) continue;
      if (await this.#issuedBefore(ref.id, fingerprint, position, claimant)) return ref.id;
    }
    return undefined;
  }

  /** The credential stood recorded on `fingerprint` before `position`, as replayed here (the fleet replay's certifyView). */
  async #issuedBefore(credentialId: string, fingerprint: string, position: bigint, claimant: Claimant): Promise<boolean> {
    const { view } = await viewBefore('credential', credentialId, position, claimant, this);
    return view !== undefined && (view.context as { fingerprint?: unknown }).fingerprint === fingerprint;
  }

  async #judge(replay: StreamReplay, record: RecordedEvent): Promise<void> {
    const { streamId, steps, findings } = replay;
    // What the finding left unrecorded, as the fleet verifier tallies it (verifier.ts apply): a foreign claim or a
    // stream out of order none (nothing follows from it), a record at fault `record`, a machine's refusal `refusal`.
    const refuse = (base: Omit<ReplayStep, 'accepted' | 'state'>, text: string, unrecorded: Unrecorded | undefined, rule: { rule?: string; ruleSince?: string } = {}): void => {
      // Bounded as the fleet replay's (verifier.ts findingAt): the client reads a reason within twice this bound.
      const reason = boundedReason(text);
      findings.push({ streamId, position: base.position, revision: base.revision, type: base.type, reason, ...rule, ...(unrecorded !== undefined ? { unrecorded } : {}) });
      steps.push({ ...base, accepted: false, state: stateOf(replay.snapshot), reason });
    };
    const base = { position: record.position, revision: record.revision, type: record.type };
    // Read after a record past it was judged (a stream out of order whose later revision lies below the reading point,
    // found only when read on): judged late, it would stand where the fleet replay does not put it. Flagged, not applied.
    if (record.position < replay.judgedPast) {
      refuse(base, `revision ${record.revision} at position ${record.position} was read after position ${replay.judgedPast}: the stream's order is broken`, undefined);
      return;
    }
    replay.judgedPast = record.position;
    // The stream's revisions must rise in global order, as the engine (which reads a stream by revision) and the fleet
    // replay (by position, verifier.ts) both take it; the highest is kept, as there.
    const sequence = (): void => {
      const highest = replay.highestRevision;
      if (highest !== undefined && record.revision <= highest) refuse(base, `revision ${record.revision} after revision ${highest}: the stream's order is broken`, undefined);
      else replay.highestRevision = record.revision;
    };
    // Any claim on a store that writes none is foreign, a malformed one too: asked before the record is read, as the
    // fleet replay asks it (verifier.ts apply; review 323: this said "malformed fact claim" where that said foreign).
    // In the fleet replay's order of findings: a foreign claim, then the order.
    if (this.#foreign && isFactClaim(record)) {
      refuse(base, FOREIGN_CLAIM, undefined);
      sequence();
      return;
    }
    const read = readStored(record);
    if (read.ok === 'claim') {
      sequence();
      return;
    }
    sequence();
    if (!read.ok) {
      refuse(base, read.reason, unrecordedOnItsStream('record'));
      return;
    }
    const { event, metadata, at } = read.value;
    // A command is one event, appended once, its id bound to that append store-wide (verifier.ts): the same command id
    // again is a command recorded twice, which the engine never does, whatever the event's place or metadata: on this
    // stream, any earlier event of it (review 420). A use on another stream is the fleet replay's to find (it holds every
    // id): looked up here it was a store read per event, on EventStoreDB a round trip each, for every entity read.
    const afterItsOwn = replay.last?.commandId === metadata.commandId;
    if (afterItsOwn || replay.commandIds.has(metadata.commandId)) {
      refuse(base, commandRecordedAgain(metadata.commandId, afterItsOwn), unrecordedOnItsStream('record'));
      return;
    }
    replay.commandIds.add(metadata.commandId);
    const after = replay.last?.position ?? -1n;
    replay.last = { commandId: metadata.commandId, position: record.position };
    // An event of another type than its command type records (verifier.ts): not applied, its id held all the same.
    const another = recordedByAnotherCommand(event.type, metadata.commandType);
    if (another !== undefined) {
      refuse(base, another, unrecordedOnItsStream('record'));
      return;
    }
    const brokenDependencies: string[] = [];
    // The entity streams whose facts the event read, and those replay held no entity of, as the verifier keeps them
    // (verifier.ts #read): a refusal may follow from a finding of one of them (entityFindingCauses).
    const reads: string[] = [];
    const absent: string[] = [];
    const claimant = { streamId, commandId: metadata.commandId, after, foreign: this.#foreign };
    const facts = await gatherFactsAsync(event, replay.snapshot.context, async (kind, id) => {
      const { view, broken } = await viewBefore(kind, id, record.position, claimant, this);
      if (broken !== undefined) brokenDependencies.push(broken);
      const read = streamIdOf(kind, id);
      reads.push(read);
      if (view === undefined || view.state === stateOf(initialSnapshot(kind, id))) absent.push(read);
      return view;
    }, (fingerprint) => this.#keyHolderBefore(fingerprint, record.position, claimant));
    const verdict = evaluate(replay.kind, replay.snapshot, machineEvent(event, at, facts));
    const who = { occurredAt: metadata.occurredAt, actor: metadata.actor.id, causationId: metadata.causationId };
    if (verdict.ok) {
      const said = { ...stepData(event.data), ...raisedFrom(replay.snapshot, verdict.snapshot) };
      replay.snapshot = verdict.snapshot;
      steps.push({ ...base, ...who, accepted: true, state: stateOf(replay.snapshot), ...said, ...(brokenDependencies.length > 0 ? { brokenFacts: brokenDependencies } : {}) });
      this.views.add([{ streamId, position: record.position, view: viewOf(replay.snapshot) }]);
    } else {
      const { reason, ...rule } = replayRefusal(event.type, verdict);
      refuse({ ...base, ...who }, refusalWithBrokenFacts(reason, brokenDependencies), { by: 'refusal', reads, absent }, rule);
    }
  }
}

/**
 * Replays one entity's stored events through its machine with every guard, cross-entity ones included (the
 * other entities as they stood at each event's position). An event the machine would not accept is a finding.
 */
export const replayEntity = async (
  store: EventStore,
  streamId: string,
  until?: (r: RecordedEvent) => boolean,
  options: EntityReplayOptions = {},
): Promise<EntityReplay> => (await replayEntityToSnapshot(store, streamId, until, options)).replay;

export interface EntityReplayOptions {
  /**
   * Most records the replay reads, of every stream together (its entity's records, and the lifecycle events of the
   * fact streams it reads, their EventStoreDB claims passed over uncounted): past it the replay stops with
   * EntityReplayReadsTooMuch (the service's entity record bound, adapters/http/routes/entity-bound.ts).
   */
  readonly maxRecords?: number;
}

/**
 * A replay of one entity that read more records than it was allowed (`maxRecords`), of its own stream and the fact
 * streams its events read: `streamId` is the stream whose read passed the bound (review 420).
 */
export class EntityReplayReadsTooMuch extends Error {
  constructor(
    readonly entity: string,
    readonly streamId: string,
    readonly records: number,
    readonly maxRecords: number,
  ) {
    super(`the replay of ${entity} read ${records} records by its read of ${streamId}, more than the ${maxRecords} it may read`);
    this.name = 'EntityReplayReadsTooMuch';
  }
}

/** `replayEntity`, with the machine snapshot its accepted events leave (the state at an instant reads its context). */
export const replayEntityToSnapshot = async (
  store: EventStore,
  streamId: string,
  until?: (r: RecordedEvent) => boolean,
  options: EntityReplayOptions = {},
): Promise<{ readonly replay: EntityReplay; readonly snapshot: EntitySnapshot }> => {
  const replays = new Replays(store, streamId, options.maxRecords);
  const { kind, steps, snapshot } = await replays.through(streamId, undefined, until);
  // In the order judged, which is the fleet's order of findings (by position, a foreign claim before the order), with
  // those of the entities it read: a refusal may follow from one of theirs (review 334).
  const findings = entityFindingCauses(streamId, replays.findings());
  const verdict: EntityReplay['verdict'] = findings.length === 0 ? { ok: true } : { ok: false, findings };
  return { replay: { streamId, kind, steps, state: stateOf(snapshot), verdict }, snapshot };
};
