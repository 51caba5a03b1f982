import Database from 'better-sqlite3';
import { join } from 'node:path';
import { COMMAND_CATALOG, decide, parseCommand, targetOf } from '../../domain/commands/index.ts';
import { canonicalJson } from '../../domain/crypto/index.ts';
import { eventIdFor } from '../../domain/event-ids.ts';
import { streamIdOf } from '../../domain/streams.ts';
import { CRASH_ACTOR, commandIdFor, laneHead, type Ack, type MixCommand, type WorkerConfig } from './crash-mix.ts';

/**
 * What a crashed `events.db` must show (issue 10), read row by row with SQL rather than through the store, so
 * that nothing the store would hide is missed: every stream's revisions 0..n-1, every command's events
 * contiguous in one stream under ids derived from its command id and matched by one `commands` row, every
 * acknowledged command there exactly once, and each lane's command in flight either wholly there or absent.
 */

interface EventRow {
  position: bigint;
  stream_id: string;
  revision: bigint;
  event_id: string;
  type: string;
  data: string;
  command_id: string | null;
  meta_command: string | null;
  actor: string | null;
}
interface CommandRow {
  command_id: string;
  stream_id: string;
  first_position: bigint;
  last_position: bigint;
  last_revision: bigint;
}

export interface StoreFacts {
  readonly events: number;
  readonly streams: number;
  readonly commands: number;
  /** Acknowledged commands found complete, exactly once. */
  readonly ackedPresent: number;
  /** Acknowledged commands not in the store. */
  readonly lost: number;
  /** Commands stored in part: events without their commands row or the reverse, missing or extra events. */
  readonly partial: number;
  /** Per lane: the first unacknowledged command, and whether the store holds it (it may have committed unacked). */
  readonly inFlight: readonly { lane: number; command: MixCommand; present: boolean }[];
}

export const PRELUDE_LENGTH = 2;

const groupInto = <T>(groups: Map<string, T[]>, key: string, item: T): void => {
  const group = groups.get(key);
  if (group === undefined) groups.set(key, [item]);
  else group.push(item);
};

/** The events a command records, by the domain's own decision (one per command today). */
const expectedEvents = (c: MixCommand) => {
  const parsed = parseCommand(c);
  const { kind, id } = targetOf(parsed);
  return { streamId: streamIdOf(kind, id), events: decide(parsed) };
};

export const readStoreFacts = (config: WorkerConfig, acks: readonly Ack[], problems: string[]): StoreFacts => {
  const db = new Database(join(config.dir, 'events.db'), { fileMustExist: true });
  db.defaultSafeIntegers(true);
  let rows: EventRow[];
  let commandRows: CommandRow[];
  try {
    rows = db
      .prepare(
        `SELECT position, stream_id, revision, event_id, type, data, command_id,
           json_extract(metadata, '$.commandId') AS meta_command, json_extract(metadata, '$.actor.id') AS actor
         FROM events ORDER BY position`,
      )
      .all() as EventRow[];
    commandRows = db.prepare('SELECT command_id, stream_id, first_position, last_position, last_revision FROM commands').all() as CommandRow[];
  } finally {
    db.close();
  }

  // No revision gap, no repeated revision, in any stream.
  const streams = new Map<string, EventRow[]>();
  for (const r of rows) groupInto(streams, r.stream_id, r);
  for (const [stream, events] of streams) {
    const revisions = events.map((e) => Number(e.revision)).sort((a, b) => a - b);
    if (revisions.some((rev, i) => rev !== i)) problems.push(`stream ${stream} has revisions ${revisions.join(',')}: a gap or a repeat`);
  }

  // Every command all or nothing: its events contiguous in one stream, ids derived from it, one commands row.
  const byCommand = new Map<string, EventRow[]>();
  for (const r of rows) {
    if (r.command_id !== r.meta_command) problems.push(`position ${r.position}: command_id column ${r.command_id} but metadata.commandId ${r.meta_command}`);
    groupInto(byCommand, r.meta_command ?? '(none)', r);
  }
  const commandIndex = new Map(commandRows.map((c) => [c.command_id, c]));
  let partial = 0;
  let lost = 0;
  for (const [id, events] of byCommand) {
    const first = events[0]!;
    const last = events.at(-1)!;
    const row = commandIndex.get(id);
    if (events.some((e) => e.stream_id !== first.stream_id)) problems.push(`command ${id} wrote to several streams`);
    if (events.some((e, k) => e.revision !== first.revision + BigInt(k) || e.event_id !== eventIdFor(id, k))) {
      problems.push(`command ${id}: events are not contiguous revisions with derived ids`);
    }
    if (row === undefined) {
      partial++;
      problems.push(`command ${id} has ${events.length} events but no commands row`);
    }
    else if (row.stream_id !== first.stream_id || row.first_position !== first.position || row.last_position !== last.position || row.last_revision !== last.revision) {
      problems.push(`command ${id}: commands row ${row.stream_id} ${row.first_position}..${row.last_position} does not match its events`);
    }
  }
  for (const c of commandRows) {
    if (byCommand.has(c.command_id)) continue;
    partial++;
    problems.push(`commands row ${c.command_id} has no events: a partial command`);
  }

  // Acknowledgements: each lane acknowledged a prefix of its commands, each once, under the derived ids.
  const acked = new Map<number, Set<number>>();
  for (const a of acks) {
    const lane = acked.get(a.lane) ?? new Set<number>();
    if (lane.has(a.index)) problems.push(`lane ${a.lane} #${a.index} was acknowledged twice`);
    lane.add(a.index);
    acked.set(a.lane, lane);
    if (a.commandId !== commandIdFor(config.seed, a.lane, a.index)) problems.push(`ack ${a.lane} #${a.index} carries command id ${a.commandId}`);
  }
  const ackedIds = new Set(acks.map((a) => a.commandId));
  let ackedPresent = 0;
  const inFlight: { lane: number; command: MixCommand; present: boolean }[] = [];
  const expectFound = (c: MixCommand, label: string): boolean => {
    const id = c.metadata.commandId!;
    const found = byCommand.get(id) ?? [];
    const expected = expectedEvents(c);
    if (found.length === 0) return false;
    const ok =
      found.length === expected.events.length &&
      found.every((e, k) => e.stream_id === expected.streamId && e.type === expected.events[k]!.type && e.actor === CRASH_ACTOR.id) &&
      found.every((e, k) => canonicalJson(JSON.parse(e.data)) === canonicalJson(expected.events[k]!.data));
    if (!ok) {
      if (found.length !== expected.events.length) partial++;
      problems.push(`${label} ${c.type} ${id}: ${found.length} events stored, ${expected.events.length} expected, or not the decided ones`);
    }
    return true;
  };
  for (let lane = 0; lane <= config.lanes; lane++) {
    const indices = acked.get(lane) ?? new Set<number>();
    const count = indices.size;
    if ([...indices].some((i) => i >= count)) problems.push(`lane ${lane} acknowledged ${[...indices].sort((a, b) => a - b).join(',')}: not a prefix`);
    // The first index not acknowledged: the lane's command in flight at the kill.
    let first = 0;
    while (indices.has(first)) first++;
    const sorted = [...indices].sort((a, b) => a - b);
    const head = laneHead(config.seed, config.lanes, lane, Math.max(count, (sorted.at(-1) ?? -1) + 1) + 1);
    for (const index of sorted) {
      const c = head[index]!;
      if (expectFound(c, `acknowledged lane ${lane} #${index}`)) {
        ackedPresent++;
      } else {
        lost++;
        problems.push(`LOST: acknowledged lane ${lane} #${index} ${c.type} ${c.metadata.commandId} is not in the store`);
      }
    }
    const next = head[first];
    if (next !== undefined) inFlight.push({ lane, command: next, present: expectFound(next, `in-flight lane ${lane} #${first}`) });
  }
  // Lanes start once the prelude is acknowledged; nothing of the mix past each lane's command in flight exists.
  const preludeDone = (acked.get(0)?.size ?? 0) === PRELUDE_LENGTH;
  if (!preludeDone && inFlight.some((f) => f.lane > 0 && f.present)) problems.push('a lane ran before the prelude was acknowledged');
  const inFlightIds = new Set(inFlight.map((f) => f.command.metadata.commandId));
  for (const [id, events] of byCommand) {
    if (events[0]!.actor === CRASH_ACTOR.id && !ackedIds.has(id) && !inFlightIds.has(id)) {
      problems.push(`command ${id} (${events[0]!.type}) is stored but was neither acknowledged nor in flight`);
    }
  }
  const unknownTypes = rows.filter((r) => !Object.values(COMMAND_CATALOG).some((c) => c.event === r.type));
  if (unknownTypes.length > 0) problems.push(`events of unknown types: ${unknownTypes.map((r) => r.type).join(', ')}`);
  return { events: rows.length, streams: streams.size, commands: commandRows.length, ackedPresent, lost, partial, inFlight };
};
