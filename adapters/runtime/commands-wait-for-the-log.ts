import type { AdmissionStep } from '../engine/index.ts';
import { TransparencyLogOfAnotherLog, type TransparencyProjection } from '../../projections/transparency/index.ts';

/**
 * An admission step: while the transparency log has stopped because it holds events the event store does not (a store
 * restored from an older backup), commands from outside are refused before anything is read or written. The way out
 * README gives ("Restoring the event store from a backup") puts the events.db that holds every logged event back, and
 * what was acknowledged meanwhile would be dropped with the file it went to (review 84). The engine's own system
 * actors (cascade, expiry, rotation) still act: nobody was told their work is done, they derive it again from the log
 * they follow after the restore, and refusing them would only turn each into a loop of retried failures.
 */
export const commandsWaitForTheLog =
  (transparency: Pick<TransparencyProjection, 'stoppedOnAnotherLog'> | undefined): AdmissionStep =>
  (_command, { asSystem }) => {
    const stopped = transparency?.stoppedOnAnotherLog;
    if (stopped !== undefined && !asSystem) throw new TransparencyLogOfAnotherLog(stopped.detail);
  };
