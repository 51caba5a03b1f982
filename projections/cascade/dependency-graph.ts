import type Database from 'better-sqlite3';
import { parseStreamId, streamPrefixOf } from '../../domain/streams.ts';
import { prepared } from '../runtime/index.ts';
import { directDependents, type Relation } from './dependents.ts';
import { endingByEventId, endingOf, enrolmentEndOf, type Ending } from './endings.ts';
import { PROVISIONED_ON_BOOTSTRAP } from './reaction-context.ts';

/**
 * What a keyCompromise cascade reaches beside the holder relations (review 329), read from the tables the cascade
 * keeps for them: a bootstrap credential's remotely provisioned credentials (review 288), and the App-ID credentials
 * an AE signed in with on a node (an association on it established with its App-ID's own credential, review 249).
 * The cascade follows them only when the parent is revoked keyCompromise (first, or raised), so the graph lists them
 * while that applies: the parent not ended (its compromise would take them), or revoked keyCompromise.
 */
export type CompromiseRelation = typeof PROVISIONED_ON_BOOTSTRAP | 'application-credential-signed-in-on';

/** How a dependent of the graph hangs on its parent: a holder relation (cascade_dependents), or a compromise's. */
export type GraphRelation = Relation | CompromiseRelation;

/** One dependent in a walk: where it hangs (its parent's stream) and through which relation. */
export interface GraphDependent {
  readonly streamId: string;
  readonly parent: string;
  readonly relation: GraphRelation;
  readonly depth: number;
  readonly aeId?: string;
}

export interface DependentsWalk {
  /** Depth first, owners before associations: each entity once, under the first parent that reached it. */
  readonly dependents: readonly GraphDependent[];
  /** More dependents exist than `limit`. */
  readonly truncated: boolean;
}

/**
 * node -> credentials -> associations is three levels; a subscription adds one, and so does a compromise's relation
 * (subscription -> node -> bootstrap credential -> provisioned credential -> its associations). Deeper is a corrupt relation.
 */
const MAX_DEPTH = 4;

/**
 * What depends on `root` according to the cascade's own relations (the ones its revocation follows, seed 003
 * 11.2.2): credentials of a node or App-ID, their associations, a node's or App-ID's other associations, a
 * subscription's enrolled nodes, the App-IDs enrolled with a credential; then, after them, what a keyCompromise of a
 * listed entity (or the root) would take beside them (CompromiseRelation), each with its own dependents. Placed after
 * the holder relations, so an entity a holder relation reaches too (a node's credential provisioned on its bootstrap
 * credential) stays under its holder. At most `limit` dependents are read from the tables, whatever the fleet's size.
 */
export const walkDependents = (db: Database.Database, root: string, limit: number): DependentsWalk => {
  const seen = new Set<string>([root]);
  const out: GraphDependent[] = [];
  let truncated = false;
  /** Places `d` under `parent` unless it is placed already; false once the limit is reached (the walk stops). */
  const place = (parent: string, depth: number, d: { child: string; relation: GraphRelation; aeId?: string }): boolean => {
    if (seen.has(d.child)) return true;
    if (out.length === limit) {
      truncated = true;
      return false;
    }
    seen.add(d.child);
    out.push({ streamId: d.child, parent, relation: d.relation, depth, ...(d.aeId !== undefined ? { aeId: d.aeId } : {}) });
    // An enrolled App-ID is a leaf here: its own credentials do not depend on this one, and its instances are
    // under the App-ID (those that associated with this credential are listed under it already).
    if (d.relation !== 'application-enrolled-with') visit(d.child, depth + 1);
    return !truncated;
  };
  // Rows already placed elsewhere are skipped, so as many more are read, and one more than fits: whether
  // something was left out is known without reading further (at most about twice `limit` rows per parent).
  const wanted = (): number => limit - out.length + 1 + seen.size;
  const visit = (parent: string, depth: number): void => {
    if (depth > MAX_DEPTH || truncated) return;
    for (const d of directDependents(db, parent, wanted())) if (!place(parent, depth, d)) return;
  };
  visit(root, 1);
  // Every listed entity (the list grows as this goes, each entity read once) and the root, in the order listed.
  for (let i = -1; i < out.length && !truncated; i++) {
    const parent = i < 0 ? root : out[i]!.streamId;
    const depth = i < 0 ? 1 : out[i]!.depth + 1;
    if (depth > MAX_DEPTH) continue;
    for (const d of compromiseDependents(db, parent, wanted())) if (!place(parent, depth, d)) break;
  }
  return { dependents: out, truncated };
};

const ASSOCIATION = streamPrefixOf('association');
const CREDENTIAL = streamPrefixOf('credential');

/** The dependents of `parent` through a CompromiseRelation, at most `limit`, while that relation applies. */
const compromiseDependents = (db: Database.Database, parent: string, limit: number): { child: string; relation: CompromiseRelation }[] => {
  const kind = parseStreamId(parent)?.kind;
  if (kind !== 'credential' && kind !== 'node') return [];
  const children =
    kind === 'credential'
      ? (prepared(db, 'SELECT credential AS child FROM cascade_bootstrap_provisioned WHERE bootstrap = ? ORDER BY credential LIMIT ?').all(parent, limit) as {
          child: string;
        }[])
      : // Every association ever established on the node counts, ended or not: its key was held there
        // (application-credentials-of-compromised.ts). Ids are joined to stream ids as streamIdOf makes them.
        (prepared(
          db,
          `SELECT DISTINCT o.credential AS child FROM cascade_dependents d
             JOIN cascade_associations a ON a.association_id = substr(d.child, ?) AND a.established = 1
             JOIN cascade_application_owned o ON o.credential = ? || a.credential_id
           WHERE d.parent = ? AND d.relation = 'association-of-node'
           ORDER BY o.credential LIMIT ?`,
        ).all(ASSOCIATION.length + 1, CREDENTIAL, parent, limit) as { child: string }[]);
  if (children.length === 0 || !followsItsCompromise(db, parent)) return [];
  const relation: CompromiseRelation = kind === 'credential' ? PROVISIONED_ON_BOOTSTRAP : 'application-credential-signed-in-on';
  return children.map(({ child }) => ({ child, relation }));
};

const REVOCATIONS: ReadonlySet<string> = new Set(['CredentialRevoked', 'NodeRevoked']);

/** Whether a compromise's relation applies to `parent`: not ended yet, or revoked keyCompromise (first, or raised). */
const followsItsCompromise = (db: Database.Database, parent: string): boolean => {
  const ending = endingOf(db, parent);
  return ending === undefined || (REVOCATIONS.has(ending.type) && (ending.reason === 'keyCompromise' || ending.raised?.reason === 'keyCompromise'));
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
