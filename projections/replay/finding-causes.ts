import type { Finding, FindingRef } from './finding.ts';

/**
 * What a finding left unrecorded, as the verifier keeps it (its tally, a checkpoint, a worker's answer): the event
 * replay did not apply, so its entity stands behind where the store's writer had it.
 */
export interface Unrecorded {
  /**
   * `refusal`: the entity's machine refused the event, which an earlier finding may explain (the entity, or a fact it
   * read, left behind). `record`: the record itself is at fault (unreadable, a command recorded again): nothing
   * earlier explains it, but what follows on its entity may follow from it.
   */
  readonly by: 'refusal' | 'record';
  /** The entity streams whose facts the event read (machines/facts.ts), in the order read; none for a record not read. */
  readonly reads: readonly string[];
  /**
   * Of `reads`, those replay held no entity of as the event read them (every event of it refused so far, or none
   * yet): the facts a refusal by a newer rule may follow from (findingCauses). Kept by the verifier, which sees the
   * view it read, as one thread, the workers and a checkpoint hold it alike; the findings alone cannot tell (a fact
   * claim, a truncated stream, moves a stream's revisions).
   */
  readonly absent: readonly string[];
}

/**
 * What one entity's replay (entity.ts) left unrecorded by a record at fault: the event's own, reading nothing (its
 * refusals say what they read, as the verifier's do, for entityFindingCauses).
 */
export const unrecordedOnItsStream = (by: Unrecorded['by']): Unrecorded => ({ by, reads: [], absent: [] });

/** A finding as the verifier tallies it: with what it left unrecorded, for findingCauses. */
export interface TalliedFinding extends Finding {
  readonly unrecorded?: Unrecorded;
}

const refOf = (f: Finding): FindingRef => ({ streamId: f.streamId, position: f.position });

/**
 * The findings of a fleet verdict, in global order, each refusal that follows from an earlier finding marked with it
 * (`followsFrom`): one on an entity an earlier finding left behind, or that read a fact of such an entity. A successor
 * credential stored on its predecessor's key is refused by keyIsNew since machines v3 and is not recorded: its
 * revocation, and an association established on it, are refused in turn, and an auditor of an old store must be able
 * to tell those knock-on findings from tampering. Decided from the findings alone, after the pass: one thread, the
 * workers (each holding a partition, the cause often in another) and a run from a checkpoint (which keeps the
 * tallied findings) classify alike. Each follower names the first finding of the chain, so a count per cause adds up.
 * A finding about the record itself (`record`, or none: a stream out of order, a foreign claim) never follows.
 *
 * A refusal by a rule newer than the event (`ruleSince`) on an entity no finding left behind follows only from an
 * entity it read that replay held none of (`absent`: the association NodeAssociated names, refused by
 * associationNamesThisNode for want of it). An entity that stands, merely behind (a node missing an association of
 * another finding), does not explain a rule the event's own data breaks: review 259 found an AE association on a
 * credential its App-ID was never enrolled with (appCredentialIsEnrolled) reported as following from an earlier
 * association's finding that had left its node and App-ID behind, counted with it, and left live by the remedy.
 */
export const findingCauses = (sorted: readonly TalliedFinding[]): Finding[] => {
  // Per entity, the finding that first left it behind (its own, or the one it followed from).
  const behind = new Map<string, FindingRef>();
  return sorted.map((tallied) => {
    const { unrecorded, ...finding } = tallied;
    if (unrecorded === undefined) return finding;
    let cause: FindingRef | undefined;
    if (unrecorded.by === 'refusal') {
      cause = behind.get(finding.streamId);
      const explaining = finding.ruleSince === undefined ? unrecorded.reads : unrecorded.absent;
      for (let i = 0; cause === undefined && i < explaining.length; i++) cause = behind.get(explaining[i]!);
    }
    if (!behind.has(finding.streamId)) behind.set(finding.streamId, cause ?? refOf(finding));
    return cause === undefined ? finding : { ...finding, followsFrom: cause };
  });
};

/**
 * The findings of one entity's replay (entity.ts), `streamId`'s, each refusal that follows from an earlier finding
 * marked with it, as findingCauses marks the fleet's. `sorted` holds, in global order, the findings of every stream that
 * replay judged (the entity's, and those of the entities it read, as far as it read them). A refusal follows from a
 * finding of an entity it read only where that finding is by a newer rule or follows one (review 334: an association
 * configured on a successor keyIsNew refuses was a broken history in `credence state --at` and none in `credence
 * replay`): its followsFrom then names a finding of another stream, which the entity's findings do not hold, and
 * findingsFollowingNewerRules counts it with the newer rules. A chain from any other finding elsewhere (tampering, as
 * far as replay can tell) is left out, so the entity's own findings are linked to its own stream's alone, as before.
 */
export const entityFindingCauses = (streamId: string, sorted: readonly TalliedFinding[]): Finding[] => {
  const everywhere = findingCauses(sorted);
  const newer = new Set<bigint>();
  for (const f of everywhere) if (isByNewerRule(f)) newer.add(f.position);
  // findingCauses answers one finding for each, in order.
  const kept = sorted.filter((f, i) => {
    const { followsFrom } = everywhere[i]!;
    return f.streamId === streamId || newer.has(f.position) || (followsFrom !== undefined && newer.has(followsFrom.position));
  });
  return findingCauses(kept).filter((f) => f.streamId === streamId);
};

/** What the counts below read of a finding: a one-entity finding off the wire too, its positions read as bigints (bin/commands/replay.ts). */
type Counted = Pick<Finding, 'position' | 'ruleSince' | 'followsFrom'>;

/** Whether a verdict's finding is one by a rule newer than its event (RULES_SINCE) that follows from no earlier finding. */
const isByNewerRule = (f: Counted): boolean => f.ruleSince !== undefined && f.followsFrom === undefined;

/**
 * How many of a verdict's `findings` are by rules newer than their stored events (review 168), decided from the rule
 * each refusal carries (`ruleSince`). One that follows from an earlier finding is counted with its cause instead
 * (findingsFollowingNewerRules, or with the broken histories).
 */
export const findingsByNewerRules = (findings: readonly Counted[]): number => findings.reduce((n, f) => (isByNewerRule(f) ? n + 1 : n), 0);

/**
 * How many of a verdict's `findings` follow from a finding by a newer rule: knock-on effects of an event an earlier
 * version stored legally. Counted apart from findingsByNewerRules, so "1 by a newer rule, 3 that follow from it" says
 * both how many rules an upgrade broke and how far their effect reaches; the rest are broken histories.
 */
export const findingsFollowingNewerRules = (findings: readonly Counted[]): number => {
  const newer = new Set<bigint>();
  const held = new Set<bigint>();
  for (const f of findings) {
    held.add(f.position);
    if (isByNewerRule(f)) newer.add(f.position);
  }
  // A cause the findings do not hold is another entity's, which one entity's replay names only by a newer rule
  // (entityFindingCauses); a fleet verdict holds every cause it names.
  return findings.reduce((n, f) => (f.followsFrom !== undefined && (newer.has(f.followsFrom.position) || !held.has(f.followsFrom.position)) ? n + 1 : n), 0);
};
