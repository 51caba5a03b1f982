import type { EntityView } from '../../domain/streams.ts';

/**
 * Where replay reads the other entities a guard needs (cross-entity facts), as they stood just before a global
 * position. One pass over the whole log reads them live from its own snapshots; a worker that holds only a partition
 * of the entities reads them from a timeline of every fact entity's views over positions (fact-timeline.ts).
 */
export interface FactViews {
  /** The entity of `streamId` as it stood before `position`; undefined when it did not exist yet. */
  viewBefore(streamId: string, position: bigint): EntityView | undefined;
}
