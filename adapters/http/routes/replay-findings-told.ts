import { EVENT_KIND, isEventType } from '../../../domain/events/index.ts';
import { findingsByNewerRules, findingsFollowingNewerRules, type EntityReplay, type Finding } from '../../../projections/replay/index.ts';
import type { Principal, ServiceContext } from '../context.ts';
import { mapAsyncInTurns } from './json-in-turns.ts';
import { toldOfStreamIds, type Teller } from './pseudonym-reads.ts';

/**
 * What of a replay's findings a caller is told (review 228, SER-025). A finding links two streams where it follows
 * from another stream's (`followsFrom`): a rotation refused because its node is revoked reads the node as a fact, so
 * once the node's stream has a finding, the pseudonym's finding follows from it and names the node outright. Such a
 * link with a pseudonym's stream at either end is told only to an auditor who recorded a resolution of that
 * pseudonym, as the pseudonym's own replay is and its events on the canonical stream are. So are the ids a reason quotes
 * from its record, where that record is a pseudonym's or names one: a command recorded again (a rotation's command id
 * derives from its node's registration or Node-ID), an event stored in another entity's stream (the entity it names).
 * Everything else (stream, position, type, rule, the machine's refusal, whose words leave the node out:
 * machines/pseudonym.refusals.ts) is told to every read role.
 */
export const findingsTold = async (context: ServiceContext, principal: Principal | undefined, findings: readonly Finding[]): Promise<Finding[]> => {
  const told = toldOfStreamIds(context, principal);
  // In turns (review 420): told one await after another, a fleet's findings were microtasks only, no timer or I/O
  // between them.
  return mapAsyncInTurns(findings, (finding) => findingTold(finding, told));
};

/** The counts of a fleet verdict's findings as its caller is told them (findingsTold: a `followsFrom` kept or not). */
export interface ToldCounts {
  readonly findingsByNewerRules: number;
  readonly findingsFollowingNewerRules: number;
}

/**
 * The counts findingsByNewerRules and findingsFollowingNewerRules give of `findingsTold(findings)`, without telling
 * each finding's reason: only whether its link to an earlier finding is told decides them. In turns of the event loop
 * (review 420: the route told every finding of the fleet, in microtasks only, even for `limit=0`).
 */
export const countsTold = async (context: ServiceContext, principal: Principal | undefined, findings: readonly Finding[]): Promise<ToldCounts> => {
  const told = toldOfStreamIds(context, principal);
  const counted = await mapAsyncInTurns(findings, async (finding) => {
    if (finding.followsFrom === undefined || (await linkTold(finding, await told(finding.streamId), told))) return finding;
    const { followsFrom: _untold, ...rest } = finding;
    return rest;
  });
  return { findingsByNewerRules: findingsByNewerRules(counted), findingsFollowingNewerRules: findingsFollowingNewerRules(counted) };
};

/** An entity's replay as its caller is told it: the reasons of its steps and findings as findingsTold words them. */
export const entityReplayTold = async (context: ServiceContext, principal: Principal | undefined, replay: EntityReplay): Promise<EntityReplay> => {
  const told = toldOfStreamIds(context, principal);
  const own = await told(replay.streamId);
  // In turns: at the entity bound, 10,000 steps and as many findings told one await after another were a block of 60 ms.
  const steps = await mapAsyncInTurns(replay.steps, async (step) => (step.reason === undefined ? step : { ...step, reason: await reasonTold(step.type, step.reason, own, told) }));
  if (replay.verdict.ok) return { ...replay, steps };
  const findings = await mapAsyncInTurns(replay.verdict.findings, (finding) => findingTold(finding, told));
  return { ...replay, steps, verdict: { ok: false, findings } };
};

const findingTold = async (finding: Finding, told: Teller): Promise<Finding> => {
  const own = await told(finding.streamId);
  const { followsFrom, ...rest } = finding;
  const linked = await linkTold(finding, own, told);
  return { ...rest, reason: await reasonTold(finding.type, finding.reason, own, told), ...(linked && followsFrom !== undefined ? { followsFrom } : {}) };
};

/** Whether `finding`'s `followsFrom` is told (`own`: whether its own stream is). */
const linkTold = async ({ streamId, followsFrom }: Finding, own: boolean, told: Teller): Promise<boolean> =>
  // A finding following from its own stream's links nothing; one following from another's is told where both are.
  followsFrom !== undefined && (followsFrom.streamId === streamId || (own && (await told(followsFrom.streamId))));

/** The verifier's words for a command recorded again (projections/replay/verifier.ts): the record's command id. */
const RECORDED_AGAIN = /^command \S+ (was recorded by an earlier append of this stream: a command is recorded once)$/;
/** Reading's words for an event in another entity's stream (domain/stored.ts decodeStored): the entity it names. */
const ADDRESSED = /^(\S+) is addressed to (\S+) but stored in (\S+)$/;

/** replay/entity.ts's words for a decision that read a fact with a broken history: they name the fact's stream. */
const DEPENDS = /; it depends on \S+ has a broken history at position \d+: .*?(?=; it depends on |$)/g;

/** `reason` without the ids it quotes that link a pseudonym to another entity, unless the caller is told that link. */
const reasonTold = async (type: string, quoted: string, own: boolean, told: Teller): Promise<string> => {
  // A pseudonym's decision that read its node as a fact names the node where that node's history is broken.
  const reason = own ? quoted : quoted.replace(DEPENDS, "; it depends on another entity's broken history (which one is told to an auditor who resolved this pseudonym)");
  const again = RECORDED_AGAIN.exec(reason);
  if (again !== null) return own ? reason : `a command ${again[1]} (its id is told to an auditor who resolved this pseudonym)`;
  const addressed = ADDRESSED.exec(reason);
  if (addressed === null) return reason;
  const [, named, addressee, stored] = addressed as unknown as [string, string, string, string];
  const kind = isEventType(named) && named === type ? EVENT_KIND[named] : undefined;
  if (own && kind !== undefined && (await told(`${kind}-${addressee}`))) return reason;
  return `${named} is addressed to another ${kind ?? 'entity'} than the one of ${stored}, where it is stored (which one is told to an auditor who resolved the pseudonym)`;
};
