import type Database from 'better-sqlite3';
import type { Pseudonym } from '../../domain/events/pseudonym.ts';
import type { PseudonymDeriver } from './derive.ts';
import { dueNodes } from './directory.ts';
import type { RotationPolicy } from './policy.ts';

/** One interval rotation of a round: the node, its current epoch, the pseudonym it takes next, and its interval (ms). */
export interface DueRotation {
  readonly nodeId: string;
  readonly current: number | undefined;
  readonly next: Pseudonym;
  readonly every: number;
}

/**
 * The interval rotations due at `now` (epoch ms) under `policy`, at most `limit`, in the order a round records them:
 * by the pseudonym each takes (SER-025). A round records its rotations together (under one time on a still clock), so
 * their order in the log is what tells them apart, and every reader sees that order. Taken by Node-ID (`ORDER BY rotated_at, node_id`: the nodes of
 * one round come due together at every later round) it named each pseudonym's node to anyone who reads the Node-IDs
 * (review 188); by the current pseudonyms, a rank would link the two epochs; by registration or `rotated_at`, the
 * order the previous round wrote. The new pseudonyms are keyed PRF outputs the readers see anyway, so their order
 * tells nothing the values do not.
 *
 * The whole due set of every class is ordered before `limit` cuts it, so which nodes wait for the next tick says
 * nothing either: a cut by a page of Node-IDs told which range each rotation was in. Under a fleet whose rotations
 * outrun the ticks, the nodes whose next pseudonyms sort last wait longest. Each tick derives the next pseudonyms of
 * the whole due set, `chunk` per PRF call (the deriver memoises them, so a set past `limit` is mostly found again).
 */
export const dueRotations = async (
  db: Database.Database,
  deriver: PseudonymDeriver,
  policy: RotationPolicy,
  now: number,
  limit: number,
  chunk: number,
): Promise<DueRotation[]> => {
  const listed = Object.keys(policy.classes);
  const intervals: { every: number; classes: { in: string[] } | { notIn: string[] } }[] = [
    ...Object.entries(policy.classes).flatMap(([cls, p]) => (p.everyMs === undefined ? [] : [{ every: p.everyMs, classes: { in: [cls] } }])),
    ...(policy.default.everyMs === undefined ? [] : [{ every: policy.default.everyMs, classes: { notIn: listed } }]),
  ];
  const due = intervals.flatMap(({ every, classes }) => dueNodes(db, now - every, now, classes).map((node) => ({ ...node, every })));
  const rotations: DueRotation[] = [];
  for (let start = 0; start < due.length; start += chunk) {
    const nodes = due.slice(start, start + chunk);
    const next = await deriver.nodes(nodes.map((node) => ({ nodeId: node.nodeId, epoch: node.epoch === undefined ? 0 : node.epoch + 1 })));
    for (const [k, node] of nodes.entries()) rotations.push({ nodeId: node.nodeId, current: node.epoch, next: next[k]!, every: node.every });
  }
  // Code-unit order (not localeCompare): the same on every process and platform, and quick over 100,000 values.
  rotations.sort((a, b) => (a.next < b.next ? -1 : a.next > b.next ? 1 : 0));
  if (rotations.length > limit) rotations.length = Math.max(0, limit);
  return rotations;
};
