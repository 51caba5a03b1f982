import { command } from '../../domain/commands/index.ts';
import { clientCommandId } from '../../domain/event-ids.ts';
import type { Actor } from '../../domain/metadata.ts';
import { placeholderKey } from './fleet.ts';

/**
 * The crash suite's lifecycle mix (issue 10), shared by the worker that runs it and the test that checks what
 * survived a SIGKILL. Everything is derived from the round's seed: which commands, in which lanes, and their
 * command ids, so the parent can rebuild any command the worker acknowledged and resubmit it under the same id.
 */

export const CRASH_ACTOR: Actor = { id: 'operator:crash-worker', role: 'operator' };
export const T0_MS = Date.parse('2026-01-01T00:00:00.000Z');
const DAY_MS = 24 * 60 * 60 * 1000;
const iso = (days: number): string => new Date(T0_MS + days * DAY_MS).toISOString();

/** What the parent hands the worker (one JSON argument). */
export interface WorkerConfig {
  readonly dir: string;
  readonly acksFile: string;
  readonly seed: number;
  /** `engine`: store and engine only. `credence`: openCredence, with projections and the transparency log settled as it runs. */
  readonly mode: 'engine' | 'credence';
  /** Concurrent command lanes after the prelude. */
  readonly lanes: number;
  /**
   * Up to this many ms between execute() resolving and the ack being written (0: at once), as a client slow to
   * record its outcome: widens the window in which a kill finds a command committed but not acknowledged.
   */
  readonly ackLagMs: number;
  /** Wall-clock ms of the round's start: the worker's clock is T0 + 1 h + (now - epoch), the same across lives. */
  readonly epochMs: number;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same mix on every machine. */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/** Mixes two numbers into a new 32-bit seed. */
export const mixSeed = (seed: number, n: number): number => Math.floor(prng((seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0)() * 2 ** 32);

export type MixCommand = ReturnType<typeof command>;

/**
 * Lane 0 is the prelude (the subscriptions); lanes 1..L run nodes L apart, concurrently once the prelude is done.
 * The id is deterministic, outside the engine's own space (domain/event-ids.ts, `clientCommandId`): an operator's
 * command under a derived id is refused.
 */
export const commandIdFor = (seed: number, lane: number, index: number): string => clientCommandId(`crash-mix:${seed}:${lane}`, String(index));

const SUBSCRIPTIONS = ['sub-a', 'sub-b'];

const prelude = (): MixCommand[] =>
  SUBSCRIPTIONS.map((subscriptionId) =>
    command('createSubscription', { subscriptionId, subscriber: 'Crash Utilities', notBefore: iso(0), notAfter: iso(400) }, { actor: CRASH_ACTOR }),
  );

/** One node's life: register, enrol, issue, provision, configure, establish; about a third end in a revocation. */
const nodeScript = (seed: number, n: number): MixCommand[] => {
  const random = prng(mixSeed(seed, n));
  const nodeId = `meter-${n}`;
  const credentialId = `${nodeId}-svc`;
  const associationId = `${nodeId}-sa`;
  const as = { actor: CRASH_ACTOR };
  const steps: MixCommand[] = [
    command('registerNode', { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: ['metering'] } }, as),
    command('enrolNode', { nodeId, subscriptionId: SUBSCRIPTIONS[n % 2]!, cseId: `/cse-${nodeId}` }, as),
    command(
      'issueCredential',
      {
        credentialId, kind: 'ed25519', ...placeholderKey(credentialId), purpose: 'service', owner: { kind: 'node', id: nodeId },
        notBefore: iso(0), notAfter: iso(365),
      },
      as,
    ),
    command('provisionCredential', { credentialId, method: 'pre-provisioning' }, as),
    command('configureAssociation', { associationId, nodeId, credentialId, registree: { kind: 'cse', id: `/cse-${nodeId}` }, registrarCseId: '/in-cse' }, as),
    command('establishAssociation', { associationId, expiresAt: iso(30) }, as),
  ];
  const ending = random();
  // The ending is the node's last command: a cascade it causes can never refuse a later command of this lane.
  if (ending < 0.12) {
    steps.push(command('revokeAssociation', { associationId, reason: 'superseded' }, as));
    steps.push(command('revokeCredential', { credentialId, reason: 'keyCompromise' }, as));
  } else if (ending < 0.24) {
    steps.push(command('revokeCredential', { credentialId, reason: 'keyCompromise' }, as));
  } else if (ending < 0.32) {
    steps.push(command('revokeNode', { nodeId, reason: 'affiliationChanged' }, as));
  }
  return steps;
};

/** The commands of one lane, endless, each with its derived command id. */
export function* laneCommands(seed: number, lanes: number, lane: number): Generator<MixCommand> {
  let index = 0;
  const withId = (c: MixCommand): MixCommand => ({ ...c, metadata: { ...c.metadata, commandId: commandIdFor(seed, lane, index++) } });
  if (lane === 0) {
    for (const c of prelude()) yield withId(c);
    return;
  }
  for (let n = lane - 1; ; n += lanes) for (const c of nodeScript(seed, n)) yield withId(c);
}

/** The first `count` commands of a lane. */
export const laneHead = (seed: number, lanes: number, lane: number, count: number): MixCommand[] => {
  const out: MixCommand[] = [];
  if (count <= 0) return out;
  for (const c of laneCommands(seed, lanes, lane)) {
    out.push(c);
    if (out.length >= count) break;
  }
  return out;
};

/** One acknowledgement: `<lane> <index> <command id>`, written and fsynced only after execute() resolved. */
export interface Ack {
  readonly lane: number;
  readonly index: number;
  readonly commandId: string;
}

export const formatAck = (a: Ack): string => `${a.lane} ${a.index} ${a.commandId}\n`;

/** The complete lines of an acks file; a line cut short by the kill (no newline yet) was not acknowledged. */
export const parseAcks = (text: string): Ack[] => {
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const [lane, index, commandId] = line.split(' ');
      if (lane === undefined || index === undefined || commandId === undefined) throw new Error(`acks file: malformed line ${JSON.stringify(line)}`);
      return { lane: Number(lane), index: Number(index), commandId };
    });
};

/** Acknowledged commands per lane (prefix lengths, assuming each lane acknowledges in order). */
export const ackedPerLane = (acks: readonly Ack[], lanes: number): number[] => {
  const counts = new Array<number>(lanes + 1).fill(0);
  for (const a of acks) counts[a.lane] = Math.max(counts[a.lane] ?? 0, a.index + 1);
  return counts;
};
