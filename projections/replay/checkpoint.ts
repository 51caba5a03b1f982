import { z } from 'zod';
import { jsonLimitIssue, MESSAGE_JSON_LIMITS, stringifyJson } from '../../domain/json-limits.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { ENTITY_KINDS, EntityKind, streamIdOf, type EntityView } from '../../domain/streams.ts';
import { MACHINES } from '../../machines/index.ts';
import { machinesRules } from './machines-fingerprint.ts';
import { CommandIds, CommandIdsChunk, MAX_COMMAND_ID_CHUNKS } from './command-ids.ts';
import { RestoredEntity, type RestoredRest, type VerifiedEntity } from './restored-entity.ts';
import { FleetVerifier, type HeldClaims, type VerifierTally } from './verifier.ts';

/**
 * A running digest of the records a replay verified, in global order: d(n) = H(d(n-1), record n). Chained per record
 * so that it does not depend on how the log was paged, and resumable from a checkpoint's value. The hash itself is
 * an adapter's (a native SHA-256); this layer only says what is hashed.
 */
export interface RecordDigest {
  update(record: RecordedEvent): void;
  /** The digest of every record so far (hex); the seed when none was added. */
  value(): string;
}
export type RecordDigestFactory = (seed?: string) => RecordDigest;

/** The bytes of a record the digest covers: everything the store holds for it, so any alteration changes it. */
export const recordBytes = (r: RecordedEvent): string =>
  `${r.position}\n${r.streamId}\n${r.revision}\n${r.id}\n${r.type}\n${stringifyJson(r.data)}\n${stringifyJson(r.metadata)}`;

const Decimal = z.string().regex(/^\d{1,30}$/);
/**
 * A machine context or state value as JSON. The whole file's shape is bounded once, before the schema runs
 * (CHECKPOINT_JSON_LIMITS): walking each of a million small contexts with its own refinement would cost more
 * than the events a re-verification reads.
 */
const JsonObject = z.custom<Record<string, unknown>>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  'must be a JSON object',
);

/** Contexts nest a few levels below the tuples; a checkpoint of a large fleet holds tens of millions of values. */
export const CHECKPOINT_JSON_LIMITS = { maxDepth: 6 + MESSAGE_JSON_LIMITS.maxDepth, maxValues: 200_000_000 } as const;

/** Where parsed JSON breaks the checkpoint's limits, as a message; undefined when it keeps them. */
export const checkpointLimitIssue = (raw: unknown): string | undefined => {
  const issue = jsonLimitIssue(raw, CHECKPOINT_JSON_LIMITS);
  return issue === undefined ? undefined : `${issue.path || '(root)'}: ${issue.message}`;
};
/**
 * A tallied finding (finding-causes.ts): with the rule that refused it and, for an event it left unrecorded, what that
 * event read, so that a verdict gone on from the checkpoint says which findings follow from which as a full run does.
 * `unrecorded` is null for a finding that left nothing unrecorded, and required: a checkpoint written before findings
 * carried it cannot say so, and is ignored (the log verified in full once), as one without `revisions` is.
 */
const CheckpointFinding = z.strictObject({
  streamId: z.string().max(300),
  position: Decimal,
  revision: Decimal,
  type: z.string().max(200),
  reason: z.string().max(4_000),
  rule: z.string().max(200).optional(),
  ruleSince: z.string().max(200).optional(),
  unrecorded: z
    .strictObject(
      {
        by: z.enum(['refusal', 'record']),
        reads: z.array(z.string().max(300)).max(100).readonly(),
        // Required: a checkpoint written before review 259 cannot say which reads replay held none of.
        absent: z
          .array(z.string().max(300), {
            error: (issue) => (issue.input === undefined ? 'missing: a checkpoint of an earlier version, whose findings do not say which facts they read replay held none of' : undefined),
          })
          .max(100)
          .readonly(),
      },
      { error: (issue) => (issue.input === undefined ? 'missing: a checkpoint of an earlier version, whose findings do not say what they left unrecorded' : undefined) },
    )
    .nullable(),
});

const View = z.object({ state: z.string().max(200), context: JsonObject });
const KindCounts = z.object(Object.fromEntries(ENTITY_KINDS.map((k) => [k, z.number().int().nonnegative()])) as Record<EntityKind, z.ZodNumber>);

/** Whether `value` is a state of `node`'s machine: a state name, or an object of state names and their substates. */
const isStateOf = (node: { readonly states: Readonly<Record<string, unknown>> }, value: unknown): boolean =>
  typeof value === 'string'
    ? Object.hasOwn(node.states, value)
    : typeof value === 'object' &&
      value !== null &&
      Object.entries(value).every(([key, sub]) => Object.hasOwn(node.states, key) && isStateOf(node.states[key] as typeof node, sub));

/**
 * Each entity stands where it says it does: its stream is its kind's and id's, and its state is one its machine has.
 * The file sits in the data folder: an edited or foreign one is ignored (and everything verified again), never
 * trusted into a false finding, nor a crash at the first event that touches the entity.
 */
const entitiesWhereTheyStand = (
  entities: readonly (readonly [string, EntityKind, string, string | Record<string, unknown>, ...unknown[]])[],
  ctx: z.RefinementCtx,
): void => {
  for (let i = 0; i < entities.length; i++) {
    const [streamId, kind, id, value] = entities[i]!;
    if (streamId !== streamIdOf(kind, id)) {
      ctx.addIssue({ code: 'custom', path: ['entities', i], message: `${streamId} is not the stream of ${kind} ${id}` });
      return;
    }
    if (!isStateOf(MACHINES[kind].root as never, value)) {
      ctx.addIssue({ code: 'custom', path: ['entities', i], message: `${JSON.stringify(value)} is no state of a ${kind}` });
      return;
    }
  }
};

/** The checkpoint format this build writes and goes on from. */
export const CHECKPOINT_FORMAT = 2;

/**
 * What a replay checkpoint holds (format version 2): the position verified up to and the digest of every record up
 * to it, the tally, every entity's machine snapshot (state value and context), the held fact claims and every command
 * id recorded: all that is needed to go on verifying from the next record as if the replay had never stopped, under
 * the machines it names.
 */
const checkpointShape = {
  /**
   * Format 1 kept no command ids (review 420): going on from it, a command id recorded before it and used again after it
   * passed. Not gone on from: the log is verified in full once, and the new checkpoint written in its place.
   */
  format: z.literal(CHECKPOINT_FORMAT, {
    error: (issue) =>
      issue.input === 1
        ? 'format 1: a checkpoint of an earlier version, which keeps no command ids (a command recorded again after it would pass); verified in full once'
        : undefined,
  }),
  /**
   * The machines that made the snapshots (machinesRules). Optional: a checkpoint of an earlier version has none. Its
   * history digest still holds, but its snapshots are another build's (a context without a field a guard now reads
   * answers otherwise), so one of other machines or none is not gone on from (checkpointMachinesChange).
   */
  machines: z.strictObject({ fingerprint: z.string().regex(/^[0-9a-f]{64}$/), description: z.string().max(300) }).optional(),
  position: Decimal,
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  /** Digest of the last record alone: a cheap check that the tip the checkpoint ends on is still there, unchanged. */
  lastRecord: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /**
   * The id of that record's event: a store holding another event there holds another history (events.db restored
   * from a backup, or another store's log), not one altered in place (review 228). Optional: an earlier version kept none.
   */
  lastEventId: z.string().max(200).optional(),
  writtenAt: z.iso.datetime(),
  events: z.number().int().nonnegative(),
  foreignEvents: z.number().int().nonnegative(),
  entitiesPerKind: KindCounts,
  eventsPerKind: KindCounts,
  findings: z.array(CheckpointFinding),
  /**
   * Per entity: stream, kind, id, state value, context, then the stream's last revision and the command id of its last
   * append (written since they are kept; an older checkpoint has neither), so that a revision out of order or a
   * command recorded again just after the checkpoint is judged as a full replay judges it.
   */
  entities: z.array(
    z.tuple([z.string().max(300), EntityKind, z.string().max(300), z.union([z.string().max(200), JsonObject]), JsonObject, Decimal.optional(), z.string().max(200).optional()]),
  ),
  claims: z.array(z.tuple([z.string().max(300), z.string().max(200), z.array(z.tuple([z.string().max(300), View.nullable()]))])),
  /**
   * The last revision of fact streams known only from fact claims (no event of their entity yet). Required: a
   * checkpoint without it was written before checkpoints kept revisions and command ids, and going on from it would
   * not judge what follows as a full run does; it is ignored and the log verified in full once.
   */
  revisions: z.array(z.tuple([z.string().max(300), Decimal]), {
    error: (issue) => (issue.input === undefined ? 'missing: a checkpoint of an earlier version, without revisions and command ids' : undefined),
  }),
  /** Every command id recorded up to the position, as digests (command-ids.ts): one used again after it is flagged. */
  commandIds: z.array(CommandIdsChunk).max(MAX_COMMAND_ID_CHUNKS),
};
export const ReplayCheckpoint = z.strictObject(checkpointShape).superRefine((checkpoint, ctx) => entitiesWhereTheyStand(checkpoint.entities, ctx));
export type ReplayCheckpoint = z.infer<typeof ReplayCheckpoint>;

/** An entity's tuple as a checkpoint holds it (ReplayCheckpoint's `entities`). */
const CheckpointEntity = checkpointShape.entities.element;

const KINDS = new Set<unknown>(ENTITY_KINDS);
/**
 * An entity's stream, kind, id and state value, as the full tuple's schema has them, checked by hand: a checkpoint holds
 * hundreds of thousands, and the schema's tuple cost more than the events a re-verification reads.
 */
const EntityHead = z.custom<[string, EntityKind, string, string | Record<string, unknown>]>(
  (head) =>
    Array.isArray(head) &&
    head.length === 4 &&
    typeof head[0] === 'string' && head[0].length <= 300 &&
    KINDS.has(head[1]) &&
    typeof head[2] === 'string' && head[2].length <= 300 &&
    ((typeof head[3] === 'string' && head[3].length <= 200) || (typeof head[3] === 'object' && head[3] !== null && !Array.isArray(head[3]))),
  'must begin with a stream, an entity kind, an id (each a string of at most 300 characters) and a state value',
);

/**
 * A checkpoint read from the lines of its file, each entity only as far as every entity must be known up front (its
 * stream, kind, id and state value: the counts per state, and entitiesWhereTheyStand); the rest of its line is read
 * and checked when the entity is first needed (checkpointOfLines).
 */
export const ReplayCheckpointOfLines = z
  .strictObject({ ...checkpointShape, entities: z.array(EntityHead) })
  .superRefine((checkpoint, ctx) => entitiesWhereTheyStand(checkpoint.entities, ctx));
export type ReplayCheckpointOfLines = z.infer<typeof ReplayCheckpointOfLines>;

/** The end of the JSON string starting at `at` of `line` (after its closing quote); -1 when there is none. */
const endOfString = (line: string, at: number): number => {
  if (line.charCodeAt(at) !== 34) return -1;
  for (let i = at + 1; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i + 1;
  }
  return -1;
};

/** The end of the JSON object starting at `at` of `line` (after its closing brace); -1 when there is none. */
const endOfObject = (line: string, at: number): number => {
  if (line.charCodeAt(at) !== 123) return -1;
  let depth = 0;
  for (let i = at; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 34) {
      i = endOfString(line, i) - 1;
      if (i < 0) return -1;
    } else if (c === 123 || c === 91) depth++;
    else if ((c === 125 || c === 93) && --depth === 0) return i + 1;
  }
  return -1;
};

/**
 * The first four values of an entity's line as JSON (stream, kind, id, state value), read without parsing the rest:
 * the line as JSON.stringify writes a tuple (no spaces), or, for any other spelling, the whole line parsed. Throws
 * when it is not JSON; what it returns is checked by ReplayCheckpointOfLines.
 */
export const entityHeadOfLine = (line: string): unknown => {
  let at = 1;
  if (line.charCodeAt(0) === 91) {
    for (let i = 0; i < 4 && at > 0; i++) {
      at = i < 3 || line.charCodeAt(at) === 34 ? endOfString(line, at) : endOfObject(line, at);
      if (at > 0 && line.charCodeAt(at) === 44) at++;
      else at = -1;
    }
    if (at > 0) return JSON.parse(`${line.slice(0, at - 1)}]`);
  }
  const whole: unknown = JSON.parse(line);
  return Array.isArray(whole) ? whole.slice(0, 4) : whole;
};

/**
 * An entity of a checkpoint read from its line cannot be gone on from (found when the entity is first needed): the
 * checkpoint is as unusable as one refused when it was read, and the log is verified in full (verify-fleet.ts).
 */
export class UnusableCheckpoint extends Error {}

/** How a checkpoint's entities are written a line each, and, read from lines, restored (checkpointOfLines). */
interface EntityLines {
  readonly count: number;
  lines(): Iterable<string>;
  restored?(): Iterable<readonly [string, RestoredEntity]>;
}
const entityLinesKept = new WeakMap<ReplayCheckpoint, EntityLines>();
/** The `entities` array made from a checkpoint's lines when first read. */
const entitiesMadeFromLines = new WeakMap<ReplayCheckpoint, EntityTuple[]>();

/**
 * The lines `checkpoint`'s entities are written as, and how many: an entity read from a line and unchanged since, that
 * line as it was read (never parsed and written again); any other, its tuple as JSON.
 */
export const entityLinesOf = (checkpoint: ReplayCheckpoint): { readonly count: number; readonly lines: Iterable<string> } => {
  const kept = entityLinesKept.get(checkpoint);
  // The lines read stand for the entities only while `entities` is the array made from them (or not made yet): one
  // assigned since is written from itself. Mutated in place, it is not told apart: the array is never changed so.
  const own = Object.getOwnPropertyDescriptor(checkpoint, 'entities');
  const unchanged = own?.get !== undefined || (own !== undefined && own.value === entitiesMadeFromLines.get(checkpoint));
  if (kept !== undefined && unchanged) return { count: kept.count, lines: kept.lines() };
  return { count: checkpoint.entities.length, lines: checkpoint.entities.map((e) => JSON.stringify(e)) };
};

/** `fields` with `entities` made by `entities` when first read (once), its lines `lines`. */
const withEntityLines = (fields: Omit<ReplayCheckpoint, 'entities'>, entities: () => EntityTuple[], lines: EntityLines): ReplayCheckpoint => {
  const checkpoint = { ...fields } as ReplayCheckpoint;
  const settle = (value: EntityTuple[]): void => void Object.defineProperty(checkpoint, 'entities', { value, enumerable: true, writable: true, configurable: true });
  Object.defineProperty(checkpoint, 'entities', {
    enumerable: true,
    configurable: true,
    get: () => {
      const value = entities();
      entitiesMadeFromLines.set(checkpoint, value);
      settle(value);
      return value;
    },
    set: settle,
  });
  entityLinesKept.set(checkpoint, lines);
  return checkpoint;
};

const DECIMAL = /^\d{1,30}$/;
/** Whether `raw` is what CheckpointEntity accepts (its schema, checked by hand). */
const isEntityTuple = (raw: unknown): raw is EntityTuple =>
  Array.isArray(raw) &&
  raw.length >= 5 && raw.length <= 7 &&
  EntityHead.safeParse(raw.slice(0, 4)).success &&
  typeof raw[4] === 'object' && raw[4] !== null && !Array.isArray(raw[4]) &&
  (raw.length < 6 || (typeof raw[5] === 'string' && DECIMAL.test(raw[5]))) &&
  (raw.length < 7 || (typeof raw[6] === 'string' && raw[6].length <= 200));

/** Entity tuples as deep as the checkpoint's limits let them be, below the file's object and its `entities` array. */
const ENTITY_JSON_LIMITS = { maxDepth: CHECKPOINT_JSON_LIMITS.maxDepth - 2, maxValues: CHECKPOINT_JSON_LIMITS.maxValues } as const;

/**
 * A checkpoint read from the lines of its file (`where`), its entities' heads checked (ReplayCheckpointOfLines) and
 * `lines` the lines they were read from: each entity's rest is parsed and checked as the whole file's is (its limits,
 * its tuple, the head it was counted under) when the entity is first needed. One that is not what a checkpoint holds
 * is told to `unusable` and thrown as UnusableCheckpoint; read whole (`entities`), the first such throws likewise.
 */
export const checkpointOfLines = (
  data: ReplayCheckpointOfLines,
  lines: readonly string[],
  where: string,
  unusable: (problem: string) => void,
): ReplayCheckpoint => {
  const { entities: heads, ...fields } = data;
  const refuse = (i: number, path: readonly PropertyKey[], message: string): never => {
    const problem = `${where}: ${['entities', i, ...path].map(String).join('.')}: ${message}`;
    unusable(problem);
    throw new UnusableCheckpoint(problem);
  };
  const tupleOf = (i: number): EntityTuple => {
    let raw: unknown;
    try {
      raw = JSON.parse(lines[i]!);
    } catch (error) {
      return refuse(i, [], `is not JSON (${(error as Error).message})`);
    }
    const beyond = jsonLimitIssue(raw, ENTITY_JSON_LIMITS);
    if (beyond !== undefined) return refuse(i, beyond.path === '' ? [] : [beyond.path], beyond.message);
    // The schema's tuple checked by hand first (a re-verification restores every credential: its key is certified);
    // the schema names what is wrong with one that fails.
    if (!isEntityTuple(raw)) {
      const parsed = CheckpointEntity.safeParse(raw);
      return parsed.success ? refuse(i, [], 'is not an entity of a checkpoint') : refuse(i, parsed.error.issues[0]!.path, parsed.error.issues[0]!.message);
    }
    const head = heads[i]!;
    const tuple = raw;
    if (tuple[0] !== head[0] || tuple[1] !== head[1] || tuple[2] !== head[2] || (tuple[3] !== head[3] && stringifyJson(tuple[3]) !== stringifyJson(head[3]))) {
      return refuse(i, [], 'is not the entity its line was counted as');
    }
    return tuple;
  };
  const restOf = (i: number): RestoredRest => {
    const [, , , , context, lastRevision, lastCommandId] = tupleOf(i);
    return { context, ...(lastRevision !== undefined ? { lastRevision: BigInt(lastRevision) } : {}), ...(lastCommandId !== undefined ? { lastCommandId } : {}) };
  };
  return withEntityLines(fields, () => heads.map((_, i) => tupleOf(i)), {
    count: lines.length,
    lines: () => lines,
    restored: function* () {
      for (let i = 0; i < heads.length; i++) {
        const [streamId, kind, id, value] = heads[i]!;
        yield [streamId, new RestoredEntity(kind, id, value, () => restOf(i), lines[i])] as const;
      }
    },
  });
};

/**
 * Why `checkpoint` cannot be gone on from by this build's machines: its snapshots were made by other ones, or by ones
 * it did not record (an earlier version of Credence wrote it); undefined when they are this build's.
 */
export const checkpointMachinesChange = (checkpoint: ReplayCheckpoint): string | undefined => {
  const given = machinesRules();
  if (checkpoint.machines?.fingerprint === given.fingerprint) return undefined;
  const recorded = checkpoint.machines?.description ?? 'machines it did not record (an earlier version of Credence wrote it)';
  return `it was made by other machines: ${recorded}, not ${given.description}`;
};

/** A checkpoint as read back: none, one that parsed, or why it cannot be used (never a throw: the caller verifies in full). */
export type LoadedCheckpoint = { ok: true; checkpoint: ReplayCheckpoint } | { ok: false; problem: string } | undefined;

/** Where a fleet verification keeps its checkpoint (adapters/driven/replay-checkpoint/ keeps it in the data folder). */
export interface CheckpointKeeper {
  /** Where it is, for the person who must remove it (an altered history keeps its old checkpoint). */
  readonly path: string;
  load(): LoadedCheckpoint;
  /**
   * Writes it; returns what the run must say it did besides (an unreadable file it moved aside), if anything. A keeper
   * may report a checkpoint it did not write itself (the CLI's, on stderr); one that throws costs the run only its
   * checkpoint, never its verdict (verify-fleet.ts notes why).
   */
  save(checkpoint: ReplayCheckpoint): string | undefined | void;
}

/** The tuples a checkpoint keeps per entity and per held claim. */
export type EntityTuple = ReplayCheckpoint['entities'][number];
export type ClaimTuple = ReplayCheckpoint['claims'][number];

/** What a checkpoint is made from: a verifier, or the merged state of the workers that replayed the partitions. */
export interface CheckpointSource {
  readonly position: bigint;
  readonly tally: VerifierTally;
  entityTuples(): Iterable<EntityTuple>;
  claimTuples(): Iterable<ClaimTuple>;
  revisionTuples(): Iterable<RevisionTuple>;
  /** Every command id recorded up to the position (CommandIds.toChunks). */
  commandIdChunks(): string[];
  /** Its entities as the lines of a checkpoint file (entityLinesOf), when they are not all written as tuples. */
  entityLines?(): { readonly count: number; lines(): Iterable<string> };
}
export type RevisionTuple = ReplayCheckpoint['revisions'][number];

export const entityTuple = (streamId: string, e: VerifiedEntity): EntityTuple => {
  const [value, context] =
    e instanceof RestoredEntity && !e.touched
      ? [e.persistedValue, e.persistedContext]
      : [e.snapshot.value as string | Record<string, unknown>, e.snapshot.context as Record<string, unknown>];
  if (e.lastRevision === undefined) return [streamId, e.kind, e.id, value, context];
  const revision = e.lastRevision.toString(10);
  return e.lastCommandId === undefined
    ? [streamId, e.kind, e.id, value, context, revision]
    : [streamId, e.kind, e.id, value, context, revision, e.lastCommandId];
};

export const claimTuple = (claimant: string, held: HeldClaims): ClaimTuple => [
  claimant, held.commandId, [...held.views].map(([s, v]) => [s, (v ?? null) as never]),
];

/** The checkpoint of a source that has applied every record up to its position, with their digest. */
export const checkpointOf = (
  source: CheckpointSource, digest: string, lastRecord: string | undefined, writtenAt: string, lastEventId?: string,
): ReplayCheckpoint => {
  const t = source.tally;
  const checkpoint: Omit<ReplayCheckpoint, 'entities'> & { entities?: EntityTuple[] } = {
    format: CHECKPOINT_FORMAT,
    machines: machinesRules(),
    position: source.position.toString(10),
    digest,
    ...(lastRecord !== undefined ? { lastRecord } : {}),
    ...(lastEventId !== undefined ? { lastEventId } : {}),
    writtenAt,
    events: t.events,
    foreignEvents: t.foreignEvents,
    entitiesPerKind: { ...t.entitiesPerKind },
    eventsPerKind: { ...t.eventsPerKind },
    findings: t.findings.map((f) => ({ ...f, position: f.position.toString(10), revision: f.revision.toString(10), unrecorded: f.unrecorded ?? null })),
    claims: [...source.claimTuples()],
    revisions: [...source.revisionTuples()],
    commandIds: source.commandIdChunks(),
  };
  // Entities read from a checkpoint's lines and untouched since are written back as those lines, never parsed and
  // written again (a re-verification touches few); their tuples are made only for a reader of `entities`.
  const lines = source.entityLines?.();
  if (lines !== undefined) return withEntityLines(checkpoint, () => [...source.entityTuples()], lines);
  return { ...checkpoint, entities: [...source.entityTuples()] } as ReplayCheckpoint;
};

/** A verifier as a checkpoint source. */
export const verifierSource = (v: FleetVerifier): CheckpointSource => ({
  position: v.position,
  tally: v.tally,
  entityTuples: function* () {
    for (const [streamId, e] of v.entities) yield entityTuple(streamId, e);
  },
  claimTuples: function* () {
    for (const [claimant, claimed] of v.claims) for (const held of claimed.values()) yield claimTuple(claimant, held);
  },
  revisionTuples: () => revisionTuples(v),
  entityLines: () => ({
    count: v.entities.size,
    lines: function* () {
      for (const [streamId, e] of v.entities) yield (e instanceof RestoredEntity ? e.line : undefined) ?? JSON.stringify(entityTuple(streamId, e));
    },
  }),
  commandIdChunks: () => {
    // A verifier of the whole log holds every id; a worker's holds none of its own (the pool's merge does).
    if (!(v.commands instanceof CommandIds)) throw new TypeError('a checkpoint is made of a verifier that holds the command ids it saw');
    return v.commands.toChunks();
  },
});

export const revisionTuples = (v: FleetVerifier): RevisionTuple[] => [...v.revisions].map(([streamId, revision]) => [streamId, revision.toString(10)]);

/** A verifier that goes on from a checkpoint. */
export const verifierFromCheckpoint = (checkpoint: ReplayCheckpoint): FleetVerifier => {
  const entities = new Map<string, VerifiedEntity>();
  const restored = entityLinesKept.get(checkpoint)?.restored?.();
  if (restored !== undefined) for (const [streamId, entity] of restored) entities.set(streamId, entity);
  else for (const [streamId, kind, id, value, context, lastRevision, lastCommandId] of checkpoint.entities) {
    const entity = new RestoredEntity(kind, id, value, context);
    if (lastRevision !== undefined) entity.lastRevision = BigInt(lastRevision);
    if (lastCommandId !== undefined) entity.lastCommandId = lastCommandId;
    entities.set(streamId, entity);
  }
  const claims = new Map<string, Map<string, HeldClaims>>();
  for (const [claimant, commandId, views] of checkpoint.claims) {
    let claimed = claims.get(claimant);
    if (claimed === undefined) claims.set(claimant, (claimed = new Map()));
    claimed.set(commandId, { commandId, views: new Map(views.map(([s, v]) => [s, (v ?? undefined) as EntityView | undefined])) });
  }
  const tally: VerifierTally = {
    events: checkpoint.events,
    foreignEvents: checkpoint.foreignEvents,
    entitiesPerKind: { ...checkpoint.entitiesPerKind },
    eventsPerKind: { ...checkpoint.eventsPerKind },
    findings: checkpoint.findings.map(({ unrecorded, ...f }) => ({
      ...f, position: BigInt(f.position), revision: BigInt(f.revision), ...(unrecorded !== null ? { unrecorded } : {}),
    })),
  };
  const revisions = new Map(checkpoint.revisions.map(([streamId, revision]) => [streamId, BigInt(revision)] as const));
  const commands = CommandIds.fromChunks(checkpoint.commandIds);
  return new FleetVerifier({ state: { entities, claims, tally, position: BigInt(checkpoint.position), revisions, commands } });
};
