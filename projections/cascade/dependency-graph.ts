import type Database from 'better-sqlite3';
import { directDependents, type Relation } from './dependents.ts';
import { endingByEventId, endingOf, enrolmentEndOf, type Ending } from './endings.ts';

/** One dependent in a walk: where it hangs (its parent's stream) and through which relation. */
export interface GraphDependent {
  readonly streamId: string;
  readonly parent: string;
  readonly relation: Relation;
  readonly depth: number;
  readonly aeId?: string;
}

export interface DependentsWalk {
  /** Depth first, owners before associations: each entity once, under the first parent that reached it. */
  readonly dependents: readonly GraphDependent[];
  /** More dependents exist than `limit`. */
  readonly truncated: boolean;
}

/** node -> credentials -> associations is three levels; a subscription adds one. Deeper is a corrupt relation. */
const MAX_DEPTH = 4;

/**
 * What depends on `root` according to the cascade's own relations (the ones its revocation follows, seed 003
 * 11.2.2): credentials of a node or App-ID, their associations, a node's or App-ID's other associations, a
 * subscription's enrolled nodes, the App-IDs enrolled with a credential. At most `limit` dependents are read from the table, whatever the fleet's size.
 */
export const walkDependents = (db: Database.Database, root: string, limit: number): DependentsWalk => {
  const seen = new Set<string>([root]);
  const out: GraphDependent[] = [];
  let truncated = false;
  const visit = (parent: string, depth: number): void => {
    if (depth > MAX_DEPTH || truncated) return;
    // Rows already placed elsewhere are skipped, so as many more are read, and one more than fits: whether
    // something was left out is known without reading further (at most about twice `limit` rows per parent).
    for (const d of directDependents(db, parent, limit - out.length + 1 + seen.size)) {
      if (seen.has(d.child)) continue;
      if (out.length === limit) {
        truncated = true;
        return;
      }
      seen.add(d.child);
      out.push({ streamId: d.child, parent, relation: d.relation, depth, ...(d.aeId !== undefined ? { aeId: d.aeId } : {}) });
      // An enrolled App-ID is a leaf here: its own credentials do not depend on this one, and its instances are
      // under the App-ID (those that associated with this credential are listed under it already).
      if (d.relation !== 'application-enrolled-with') visit(d.child, depth + 1);
      if (truncated) return;
    }
  };
  visit(root, 1);
  return { dependents: out, truncated };
};

export { endingOf };

/**
 * How a dependent of a walk ended: its own ending, or for an App-ID enrolled with its parent credential, the end of
 * that enrolment (the App-ID stays registered; its authorisation ended).
 */
export const dependentEnding = (db: Database.Database, d: Pick<GraphDependent, 'streamId' | 'parent' | 'relation'>): Ending | undefined =>
  d.relation === 'application-enrolled-with' ? enrolmentEndOf(db, d.streamId, d.parent) : endingOf(db, d.streamId);

/**
 * The ending that caused `ending`, when it was a cascade's: the process manager's command, whose causation it set
 * to another recorded ending. The other system actors never point theirs at an ending (the scheduler's is its own
 * command id), and an operator's causationId is the client's word: resolved, it let an operator's revocation read
 * as the cascade of any other one.
 */
export const causeOf = (db: Database.Database, ending: Ending): Ending | undefined =>
  ending.byCascade ? endingByEventId(db, ending.causeEventId) : undefined;

/**
 * Which dependents of a walk were ended by the cascade that started at `root`'s own ending. Mostly the chain of
 * causes says it (a credential revoked by the node's revocation, an association by that credential's). A dependent
 * the cascade only learnt of after its parent had ended (its creation stored just after the revocation, or handled
 * later by a catching-up process manager) was ended by a re-check caused by its own creation event: it counts when
 * the process manager ended it after its parent, and that parent is the root or was itself ended by the root's cascade.
 */
export const cascadeFrom = (db: Database.Database, root: string, walk: readonly GraphDependent[]): Map<string, boolean> => {
  const origin = endingOf(db, root);
  const out = new Map<string, boolean>();
  for (const d of walk) {
    const ending = dependentEnding(db, d);
    if (origin === undefined || ending === undefined || !ending.byCascade) {
      out.set(d.streamId, false);
      continue;
    }
    if (causedThrough(db, ending, origin)) {
      out.set(d.streamId, true);
      continue;
    }
    const parentEnding = d.parent === root ? origin : out.get(d.parent) === true ? endingOf(db, d.parent) : undefined;
    const recheck = causeOf(db, ending) === undefined;
    out.set(d.streamId, recheck && parentEnding !== undefined && ending.position > parentEnding.position);
  }
  return out;
};

/** Whether the chain of causes of `ending` (each a recorded ending, each the cascade's) reaches `origin`'s event. */
const causedThrough = (db: Database.Database, ending: Ending, origin: Ending): boolean => {
  let current: Ending | undefined = ending;
  // An operator's ending in the chain breaks it, whatever causationId it was sent with (causeOf).
  for (let step = 0; step <= MAX_DEPTH && current?.byCascade === true; step++) {
    if (current.causeEventId === origin.eventId) return true;
    current = causeOf(db, current);
  }
  return false;
};
