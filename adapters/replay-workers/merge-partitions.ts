import { ENTITY_KINDS } from '../../domain/streams.ts';
import type { EntityTuple, RevisionTuple } from '../../projections/replay/checkpoint.ts';
import type { VerifierTally } from '../../projections/replay/verifier.ts';

export const addTally = (into: VerifierTally, from: VerifierTally): void => {
  into.events += from.events;
  into.foreignEvents += from.foreignEvents;
  for (const k of ENTITY_KINDS) {
    into.entitiesPerKind[k] += from.entitiesPerKind[k];
    into.eventsPerKind[k] += from.eventsPerKind[k];
  }
  // One by one: a spread passes each finding as an argument, and past some 125,000 of them (Node 20) the call throws
  // RangeError (review 420: a partition of 400,000 unreadable events failed the workers' verdict).
  for (const finding of from.findings) into.findings.push(finding);
};

/**
 * The workers' entities with the last revision of each stream as one pass would have it: a fact claim is read in its
 * claimant's partition, so the newest revision a stream reached may be known to another worker than its entity's.
 */
export const mergedRevisions = (states: readonly { readonly entities: readonly EntityTuple[]; readonly revisions: readonly RevisionTuple[] }[]) => {
  const newest = new Map<string, bigint>();
  for (const { revisions } of states) {
    for (const [streamId, revision] of revisions) {
      const at = BigInt(revision);
      if ((newest.get(streamId) ?? -1n) < at) newest.set(streamId, at);
    }
  }
  const entities: EntityTuple[] = [];
  for (const { entities: own } of states) {
    for (const tuple of own) {
      const claimed = newest.get(tuple[0]);
      if (claimed === undefined) {
        entities.push(tuple);
        continue;
      }
      newest.delete(tuple[0]);
      const [streamId, kind, id, value, context, revision, commandId] = tuple;
      const last = revision === undefined || BigInt(revision) < claimed ? claimed.toString(10) : revision;
      entities.push(commandId === undefined ? [streamId, kind, id, value, context, last] : [streamId, kind, id, value, context, last, commandId]);
    }
  }
  const revisions: RevisionTuple[] = [...newest].map(([streamId, revision]) => [streamId, revision.toString(10)]);
  return { entities, revisions };
};
