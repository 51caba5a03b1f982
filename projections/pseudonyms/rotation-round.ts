import type Database from 'better-sqlite3';
import type { Pseudonym } from '../../domain/events/pseudonym.ts';
import type { PseudonymDeriver } from './derive.ts';
import { dueNodes, intervalStart, isDue, nodePseudonym } from './directory.ts';
import type { RotationPolicy } from './policy.ts';

/** One interval rotation of a round: the node, its current epoch, the pseudonym it takes next, and its interval (ms). */
export interface DueRotation {
  readonly nodeId: string;
  readonly current: number | undefined;
  readonly next: Pseudonym;
  readonly every: number;
}

/**
 * The interval rotations due at `now` (epoch ms) under `policy`, in the order a round records them: by the pseudonym
 * each takes (SER-025). A round records its rotations together (under one time on a still clock), so their order in
 * the log is what tells them apart, and every reader sees that order. Taken by Node-ID (`ORDER BY rotated_at, node_id`:
 * the nodes of one round come due together at every later round) it named each pseudonym's node to anyone who reads
 * the Node-IDs (review 188); by the current pseudonyms, a rank would link the two epochs; by registration or
 * `rotated_at`, the order the previous round wrote. The new pseudonyms are keyed PRF outputs the readers see anyway, so
 * their order tells nothing the values do not.
 *
 * The whole due set of every class is ordered, so which nodes a tick limit leaves for later ticks says nothing either:
 * a cut by a page of Node-IDs told which range each rotation was in. Derived `chunk` per PRF call.
 */
const dueRotations = async (
  db: Database.Database,
  deriver: PseudonymDeriver,
  policy: RotationPolicy,
  now: number,
  chunk: number,
): Promise<DueRotation[]> => {
  const listed = Object.keys(policy.classes);
  const intervals: { every: number; classes: { in: string[] } | { notIn: string[] } }[] = [
    ...Object.entries(policy.classes).flatMap(([cls, p]) => (p.everyMs === undefined ? [] : [{ every: p.everyMs, classes: { in: [cls] } }])),
    ...(policy.default.everyMs === undefined ? [] : [{ every: policy.default.everyMs, classes: { notIn: listed } }]),
  ];
  const due = intervals.flatMap(({ every, classes }) => dueNodes(db, intervalStart(now, every), now, classes).map((node) => ({ ...node, every })));
  const rotations: DueRotation[] = [];
  for (let start = 0; start < due.length; start += chunk) {
    const nodes = due.slice(start, start + chunk);
    const next = await deriver.nodes(nodes.map((node) => ({ nodeId: node.nodeId, epoch: node.epoch === undefined ? 0 : node.epoch + 1 })));
    for (const [k, node] of nodes.entries()) rotations.push({ nodeId: node.nodeId, current: node.epoch, next: next[k]!, every: node.every });
  }
  // Code-unit order (not localeCompare): the same on every process and platform, and quick over 1,000,000 values.
  rotations.sort((a, b) => (a.next < b.next ? -1 : a.next > b.next ? 1 : 0));
  return rotations;
};

/**
 * The rounds of interval rotations, handed to the ticks `limit` at a time. A round is the whole due set, derived and
 * ordered once (`dueRotations`) and spent over as many ticks as the limit takes; the next round is read when it is
 * spent. Each tick had derived and sorted the whole due set again to take `limit` of it: past the deriver's memo
 * (200,000) every tick made a PRF call per due node, a catch-up of 1,000,000 due nodes a million Secure Environment
 * calls and a million-element sort per tick (review 189). The round is read once: a node that comes due while it is
 * being spent waits for the next round, at most the ticks this one has left. A round is held whole, some 300 bytes a node (300 MB for 1,000,000; each tick held as much while it
 * ran before), and given back as its ticks take it: cut into chunks held one at a time, its order would be the keyed
 * one within each chunk only, and which chunk a node fell in would tell the order the directory read it in.
 */
export class RotationRounds {
  #left: DueRotation[] = [];
  #reading: Promise<void> | undefined;
  /** Raised by `drop`: a round read before it is not kept. */
  #generation = 0;

  constructor(
    private readonly deriver: PseudonymDeriver,
    private readonly policy: RotationPolicy,
    private readonly chunk: number,
  ) {}

  /**
   * The round's next rotations, at most `limit`, a new round read at `now` (epoch ms) when this one is spent; `read`,
   * whether this call read it (then its rotations are as the directory holds them now, and need no `asFound`).
   */
  async take(db: Database.Database, now: number, limit: number): Promise<{ rotations: DueRotation[]; read: boolean }> {
    const read = this.#left.length === 0;
    if (read) {
      const generation = this.#generation;
      this.#reading ??= dueRotations(db, this.deriver, this.policy, now, this.chunk)
        .then((round) => {
          if (generation === this.#generation) this.#left = round;
        })
        .finally(() => {
          this.#reading = undefined;
        });
      await this.#reading;
    }
    return { rotations: this.#left.splice(0, Math.max(0, limit)), read };
  }

  /** Rotations of the round no tick has taken yet. */
  get left(): number {
    return this.#left.length;
  }

  /** Forgets the round (the directory was reset, or a tick stopped midway): the next tick reads a new one. */
  drop(): void {
    this.#generation++;
    this.#left = [];
  }
}

/**
 * Whether the directory shows the node as its round found it, at `now` (epoch ms): live, at the same epoch, and due
 * by its interval. A node rotated since (on demand, by an association, by another process), revoked, or read again by
 * a rebuild is passed over at its turn; if it is due, the next round has it.
 */
export const asFound = (db: Database.Database, rotation: DueRotation, now: number): boolean => {
  const node = nodePseudonym(db, rotation.nodeId);
  return node !== undefined && node.live && node.epoch === rotation.current && node.rotatedAt !== undefined && isDue(node.rotatedAt, now, rotation.every);
};
