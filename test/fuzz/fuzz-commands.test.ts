/**
 * Issue 10, property-based fuzzing of commands: legitimate commands of every type, mutated (fields dropped or given
 * wrong types, huge and unicode strings, `__proto__` / `constructor` / `prototype` own keys, NaN and impossible
 * dates, ids with path characters, deep nesting, spoofed roles and `system:` ids, command ids reused for other
 * data), and random JSON, run through the engine against a store holding a small fleet. Each input ends in an
 * outcome that is genuinely valid or in a typed CredenceError; a rejection writes nothing; replay of what was
 * accepted finds nothing wrong. Settings and reproduction: ./settings.ts.
 */
import fc from 'fast-check';
import { it } from '@fast-check/vitest';
import { describe } from 'vitest';
import { COMMAND_CATALOG, COMMAND_TYPES, type CommandType } from '../../domain/commands/index.ts';
import { ENTITY_ID_FIELD, EVENT_KIND } from '../../domain/events/index.ts';
import { SYSTEM_ACTOR_IDS } from '../../domain/metadata.ts';
import type { CommandOutcome, RecordedEvent } from '../../domain/ports/index.ts';
import { decodeStored } from '../../domain/stored.ts';
import { replayAll } from '../../projections/replay/index.ts';
import { DAY } from '../../adapters/driven/clock/index.ts';
import { establishOne, fixture, footprint } from '../support/fleet.ts';
import { anyInput, hostileValue, jsonValue, materialize, overTheWire, prototypeFingerprint, SPECIAL_KEYS } from './arbitraries.ts';
import { applyMutations, cloneTree, getAt, mutation, type Mutation } from './mutations.ts';
import { hostileActor, legitimateCommand, type CommandInput } from './command-catalog.ts';
import { ending, fuzzParameters, SEED_NOTE, tally, timeoutFor, untyped, violated, wroteOnRejection } from './settings.ts';

type Step =
  | {
      readonly kind: 'command';
      readonly command: CommandInput;
      readonly mutations: readonly Mutation[];
      /** Replaces metadata.actor before the mutations: role spoofing. */
      readonly actor?: unknown;
      /** Sends it through the other door (execute <-> executeAsSystem). */
      readonly otherDoor: boolean;
      /** As parsed JSON off the wire (own `__proto__` keys, no undefined, no bigint). */
      readonly wire: boolean;
    }
  /** The input of an earlier step again, under the same command id, as it was or with other data. */
  | { readonly kind: 'repeat'; readonly of: number; readonly mutations: readonly Mutation[] }
  | { readonly kind: 'random'; readonly input: unknown; readonly asSystem: boolean }
  | { readonly kind: 'advance'; readonly days: number };

const commandShaped = fc.record({
  type: fc.oneof(fc.constantFrom(...COMMAND_TYPES), fc.constantFrom('launchMissiles', '__proto__', 'constructor', 'toString', ''), hostileValue),
  data: fc.oneof(fc.dictionary(fc.string({ maxLength: 12 }), jsonValue, { maxKeys: 6 }), hostileValue),
  metadata: fc.record({ actor: hostileActor, commandId: fc.oneof(fc.uuid(), hostileValue) }, { requiredKeys: [] }),
});

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('command' as const), command: legitimateCommand, mutations: fc.constant([]), otherDoor: fc.constant(false), wire: fc.boolean() }),
  },
  {
    weight: 7,
    arbitrary: fc.record(
      {
        kind: fc.constant('command' as const),
        command: legitimateCommand,
        mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
        actor: hostileActor,
        otherDoor: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
        wire: fc.boolean(),
      },
      { requiredKeys: ['kind', 'command', 'mutations', 'otherDoor', 'wire'] },
    ),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('repeat' as const), of: fc.nat(), mutations: fc.array(mutation, { maxLength: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('random' as const), input: fc.oneof(anyInput, commandShaped), asSystem: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), days: fc.integer({ min: 1, max: 400 }) }) },
);

const PROPERTY = 'commands';
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$/;
const PSEUDONYM = /^p-[a-z2-7]{26}$/;
const INSTANT_KEYS = new Set(['notBefore', 'notAfter', 'expiresAt', 'overlapEndsAt']);

/** The documented rule (adapters/engine/admission.ts): ids reserved to the engine's own system actors. */
const isReservedActorId = (id: string): boolean =>
  (SYSTEM_ACTOR_IDS as readonly string[]).includes(id) || id.trimStart().toLowerCase().startsWith('system:');

const record = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});

/** Keys anywhere in a stored event's data that must never survive parsing. */
const specialKeyIn = (value: unknown): string | undefined => {
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    for (const key of Object.keys(v)) {
      if ((SPECIAL_KEYS as readonly string[]).includes(key)) return key;
      stack.push((v as Record<string, unknown>)[key]);
    }
  }
  return undefined;
};

interface Used {
  readonly type: string;
  readonly actor: string;
  readonly eventIds: string;
}

/**
 * What an accepted input must be: a catalog command whose actor may issue it through that door, aimed at a stream
 * named by a safe id, recorded as the catalog's event with readable data and real instants; a repeat of an earlier
 * command id only when the same actor sent the same command (and then nothing is written).
 */
const checkAccepted = (
  input: unknown,
  asSystem: boolean,
  outcome: CommandOutcome,
  written: { count: number; head: bigint | undefined },
  used: Map<string, Used>,
): void => {
  const fail = (why: string) => violated(`an accepted command ${why}: ${shown(input)}`);
  const type = record(input)['type'] as CommandType;
  if (!(COMMAND_TYPES as readonly unknown[]).includes(type)) fail('has no catalog type');
  const actor = record(record(record(input)['metadata'])['actor']);
  const actorId = String(actor['id']);
  const role = String(actor['role']);
  if (!(COMMAND_CATALOG[type].roles as readonly string[]).includes(role)) fail(`was sent by role ${role}, which may not ${type}`);
  if (asSystem ? role !== 'system' || !(SYSTEM_ACTOR_IDS as readonly string[]).includes(actorId) : role === 'system' || isReservedActorId(actorId)) {
    fail(`was accepted from ${role} ${JSON.stringify(actorId)} through ${asSystem ? 'executeAsSystem' : 'execute'}`);
  }
  const kind = EVENT_KIND[COMMAND_CATALOG[type].event];
  const id = record(record(input)['data'])[ENTITY_ID_FIELD[kind]];
  if (typeof id !== 'string' || !(kind === 'pseudonym' ? PSEUDONYM : SAFE_ID).test(id) || outcome.streamId !== `${kind}-${id}`) {
    fail(`was recorded in stream ${JSON.stringify(outcome.streamId)} for id ${JSON.stringify(id)}`);
  }
  if (outcome.events.length === 0) fail('recorded no event');
  for (const event of outcome.events as readonly RecordedEvent[]) {
    if (event.type !== COMMAND_CATALOG[type].event || event.streamId !== outcome.streamId) fail(`recorded ${event.type} in ${event.streamId}`);
    const decoded = decodeStored(event);
    if (!decoded.ok) fail(`recorded an event that does not decode: ${decoded.reason}`);
    const metadata = record(event.metadata);
    const recordedActor = record(metadata['actor']);
    if (recordedActor['id'] !== actorId || recordedActor['role'] !== role || metadata['commandType'] !== type || metadata['commandId'] !== outcome.commandId) {
      fail('recorded other metadata than it was sent with');
    }
    const special = specialKeyIn(event.data);
    if (special !== undefined) fail(`stored a ${special} key`);
    for (const [key, value] of Object.entries(event.data)) {
      if (INSTANT_KEYS.has(key) && !(typeof value === 'string' && Number.isFinite(Date.parse(value)))) fail(`stored ${key} ${JSON.stringify(value)}`);
    }
  }
  const eventIds = outcome.events.map((e) => e.id).join(',');
  const first = used.get(outcome.commandId);
  if (outcome.deduplicated) {
    if (first === undefined) fail(`was reported as a repeat of ${outcome.commandId}, which was never accepted`);
    if (first!.type !== type || first!.actor !== `${role} ${actorId}` || first!.eventIds !== eventIds) {
      fail(`reused ${outcome.commandId} (first ${first!.type} by ${first!.actor}) and was reported as its first outcome`);
    }
    if (written.count !== 0) fail('was a repeat and wrote');
  } else {
    if (first !== undefined) fail(`recorded a second decision under command id ${outcome.commandId}`);
    if (written.count !== outcome.events.length || written.head !== outcome.events[outcome.events.length - 1]!.position) {
      fail(`wrote ${written.count} events for ${outcome.events.length}`);
    }
    used.set(outcome.commandId, { type, actor: `${role} ${actorId}`, eventIds });
  }
};

const overTheWireOrUndefined = (value: unknown): unknown => {
  try {
    return overTheWire(value);
  } catch {
    return undefined;
  }
};

/** The input as text for a failure message, cut short. */
const shown = (value: unknown): string => {
  try {
    return (JSON.stringify(overTheWire(value)) ?? String(value)).slice(0, 400);
  } catch {
    return String(value).slice(0, 400);
  }
};

/** The input a step sends, and through which door. */
const inputOf = (s: Step, sent: readonly { input: unknown; asSystem: boolean }[]): { input: unknown; asSystem: boolean } | undefined => {
  switch (s.kind) {
    case 'advance':
      return undefined;
    case 'random':
      return { input: materialize(s.input), asSystem: s.asSystem };
    case 'repeat': {
      const earlier = sent[s.of % Math.max(1, sent.length)];
      return earlier === undefined ? undefined : { input: applyMutations(earlier.input, s.mutations), asSystem: earlier.asSystem };
    }
    case 'command': {
      let input = cloneTree(s.command.input) as Record<string, unknown>;
      if (s.actor !== undefined) Object.defineProperty(input['metadata'] as object, 'actor', { value: cloneTree(s.actor), enumerable: true, writable: true });
      input = applyMutations(input, s.mutations) as Record<string, unknown>;
      // What JSON.stringify cannot take (a 100,000-level nesting) travels as the object it is.
      const wired = s.wire ? overTheWireOrUndefined(input) : undefined;
      return { input: wired ?? input, asSystem: s.command.asSystem !== s.otherDoor };
    }
  }
};

/** The id a repeat reuses: the command id the engine recorded for the earlier input, when it gave none. */
const withRecordedId = (input: unknown, commandId: string | undefined): unknown => {
  if (commandId === undefined) return input;
  const metadata = getAt(input, ['metadata']);
  if (typeof metadata !== 'object' || metadata === null || 'commandId' in metadata) return input;
  const copy = cloneTree(input) as Record<string, unknown>;
  (copy['metadata'] as Record<string, unknown>)['commandId'] = commandId;
  return copy;
};

const runSteps = async (steps: readonly Step[]): Promise<void> => {
  const { engine, store, clock } = fixture();
  try {
    await establishOne(engine);
    const used = new Map<string, Used>();
    const sent: { input: unknown; asSystem: boolean }[] = [];
    for (const s of steps) {
      if (s.kind === 'advance') {
        clock.advance(s.days * DAY);
        continue;
      }
      const next = inputOf(s, sent);
      if (next === undefined) continue;
      const before = await footprint(store);
      const prototype = prototypeFingerprint();
      const ended = await ending(() => (next.asSystem ? engine.executeAsSystem(next.input) : engine.execute(next.input)));
      const after = await footprint(store);
      if (prototypeFingerprint() !== prototype) violated('an input changed Object.prototype');
      switch (ended.kind) {
        case 'untyped':
          untyped(next.asSystem ? 'engine.executeAsSystem' : 'engine.execute', ended.error);
          break;
        case 'refused':
          tally(PROPERTY, ended.error.code);
          if (after.count !== before.count || after.head !== before.head) {
            wroteOnRejection(`a ${ended.error.code} rejection wrote: ${before.count} -> ${after.count} events (${ended.error.message.slice(0, 200)})`);
          }
          sent.push(next);
          break;
        case 'value': {
          const outcome = ended.value as CommandOutcome;
          tally(PROPERTY, outcome.deduplicated ? 'accepted as a repeat' : 'accepted');
          checkAccepted(next.input, next.asSystem, outcome, { count: after.count - before.count, head: after.head }, used);
          sent.push({ input: withRecordedId(next.input, outcome.commandId), asSystem: next.asSystem });
          break;
        }
      }
    }
    const replay = await replayAll(store);
    if (replay.findings.length > 0) violated(`replay found ${replay.findings.length} problems in accepted commands: ${replay.findings.map((f) => `${f.streamId}@${f.position}: ${f.reason}`).join('; ').slice(0, 600)}`);
  } finally {
    await store.close();
  }
};

const SCALE = 1.5;

describe('fuzzing commands through the engine', () => {
  it.prop([fc.array(step, { minLength: 1, maxLength: 10 })], fuzzParameters(SCALE))(
    `every command, mutated or random, is accepted only when valid or refused with a CredenceError, and a refusal writes nothing (${SEED_NOTE})`,
    runSteps,
    timeoutFor(SCALE, 20),
  );
});
