import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import { streamIdOf } from '../../domain/streams.ts';
import { BrokenHistoryError } from '../../machines/index.ts';
import { addDeadLetter } from './dead-letters.ts';
import type { Ending } from './endings.ts';
import { targetKind } from './own-commands.ts';

export interface CascadeLog {
  (entry: {
    outcome: 'issued' | 'duplicate' | 'skipped' | 'dead-letter';
    command: string;
    target: string;
    reason?: string;
    /** On a dead letter: the event reacted to and the stream that could not be used, which is what an operator looks up. */
    eventType?: string;
    position?: bigint;
    stream?: string;
  }): void;
}

/** The command of a dead letter whose reactions could not be worked out (its target is the broken stream). */
export const LOOKUP = '(lookup)';

export const deadLetter = (db: Database.Database, log: CascadeLog, e: DecodedEvent, command: string, target: string, error: unknown): void => {
  const reason = error instanceof Error ? error.message : String(error);
  const stream = command === LOOKUP ? target : streamIdOf(targetKind(command), target);
  const brokenHistory = error instanceof BrokenHistoryError && error.streamId === stream;
  addDeadLetter(db, { position: e.record.position, eventType: e.event.type, occurredAt: e.metadata.occurredAt, command, target, stream, reason, brokenHistory });
  log({ outcome: 'dead-letter', command, target, reason, eventType: e.event.type, position: e.record.position, stream });
};

/** This reaction's own earlier effect (a cascade caused by this very event) or an ending that came otherwise. */
export const endedAlready = (command: string, target: string, ending: Ending, causeId: string): Parameters<CascadeLog>[0] =>
  ending.byCascade && ending.causeEventId === causeId
    ? { outcome: 'duplicate', command, target }
    : { outcome: 'skipped', command, target, reason: `${target} has ended already (${ending.type})` };
