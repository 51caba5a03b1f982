import { streamPrefixOf, type EntityView } from '../../domain/streams.ts';
import { CertifiedKeys } from './certified-keys.ts';
import type { FactViews } from './fact-views.ts';

/** One revision of a fact entity: its view after the accepted event at `position`. */
export interface FactRevision {
  readonly streamId: string;
  readonly position: bigint;
  readonly view: EntityView;
}

const CREDENTIAL_PREFIX = streamPrefixOf('credential');

/**
 * Kinds whose entities guards read as facts (machines/facts.ts): only their views need a timeline. Associations since
 * machines v8 (review 234): the bookkeeping on their node, credential and App-ID reads the association it names.
 */
export const FACT_KINDS: ReadonlySet<string> = new Set(['subscription', 'node', 'credential', 'application', 'association']);

/**
 * Every fact entity's views over global positions, as a first pass recorded them; a partition consults it "as of"
 * an event's position. Revisions of one stream arrive in position order (one pass over the log records them so);
 * `viewBefore` is a binary search over that stream's revisions.
 */
export class FactTimeline implements FactViews {
  readonly #positions = new Map<string, bigint[]>();
  readonly #views = new Map<string, EntityView[]>();
  /** Keys certified by each credential's first view, its issue (SER-010). */
  readonly #keys = new CertifiedKeys();

  add(revisions: Iterable<FactRevision>): this {
    for (const { streamId, position, view } of revisions) {
      let positions = this.#positions.get(streamId);
      if (positions === undefined) {
        this.#positions.set(streamId, (positions = []));
        this.#views.set(streamId, []);
      }
      const last = positions.at(-1);
      if (last !== undefined && last >= position) throw new RangeError(`revisions of ${streamId} out of order at position ${position}`);
      if (positions.length === 0 && streamId.startsWith(CREDENTIAL_PREFIX)) this.#keys.certifyView(streamId.slice(CREDENTIAL_PREFIX.length), position, view);
      positions.push(position);
      this.#views.get(streamId)!.push(view);
    }
    return this;
  }

  keyHolderBefore(fingerprint: string, position: bigint): string | undefined {
    return this.#keys.holderBefore(fingerprint, position);
  }

  viewBefore(streamId: string, position: bigint): EntityView | undefined {
    const positions = this.#positions.get(streamId);
    if (positions === undefined) return undefined;
    // Last revision strictly before `position`.
    let lo = 0;
    let hi = positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (positions[mid]! < position) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : this.#views.get(streamId)![lo - 1];
  }
}
