import type { EntityView } from '../../domain/streams.ts';

/**
 * Where replay reads the other entities a guard needs (cross-entity facts), as they stood just before a global
 * position. One pass over the whole log reads them live from its own snapshots; a worker that holds only a partition
 * of the entities reads them from a timeline of every fact entity's views over positions (fact-timeline.ts).
 */
export interface FactViews {
  /** The entity of `streamId` as it stood before `position`; undefined when it did not exist yet. */
  viewBefore(streamId: string, position: bigint): EntityView | undefined;
  /**
   * The credential (its id) whose issue certified the key `fingerprint` before `position`, the first one; undefined
   * when none did (SER-010, keyNeverCertified: the fleet-wide fact a new credential's issue is judged against).
   */
  keyHolderBefore(fingerprint: string, position: bigint): string | undefined;
}
