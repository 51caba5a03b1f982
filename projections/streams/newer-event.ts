/**
 * A lifecycle stream met a stored event that a newer version of Credence wrote (domain/stored.ts `newer`: a type this
 * version does not know, or a schema version above the one it knows), and ended before it (review 85). Passing over it
 * would move a subscriber past an event it could read once this server is upgraded, and a resume is strictly after
 * the subscriber's position, so it would never get it: DESIGN's "resume after a disconnect without loss". The
 * subscriber keeps the position of the last event it received and resumes from there once the server reads it.
 *
 * An expected outcome (a downgrade, or a writer of the data folder), so a value with a `code` and where it is: never
 * the event's data. `instanceof` or `code === 'newer_event'` tells it apart from a failing store.
 */
export class NewerEventError extends Error {
  readonly code = 'newer_event' as const;

  constructor(
    /** Global position of the event: the stream delivered every event before it that its filter keeps. */
    readonly position: bigint,
    readonly streamId: string,
    readonly revision: bigint,
    /** Its stored type, as the newer version named it. */
    readonly type: string,
    /** decodeStored's reason: the unknown type, or the version found and the one this version knows. */
    readonly reason: string,
  ) {
    super(
      `the event at position ${position} (${streamId} revision ${revision}) was written by a newer version of Credence (${reason}): ` +
        'the stream ends before it; upgrade the server, then resume after the last event received',
    );
    this.name = 'NewerEventError';
  }
}
