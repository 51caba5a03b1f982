import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import { prepared } from '../runtime/index.ts';
import { enrolmentApplied } from './directory.ts';

/** Event types the directory is built from. */
export const DIRECTORY_EVENT_TYPES = [
  'NodeRegistered',
  'NodeEnrolled',
  'NodeRevoked',
  'NodeEnrolmentExpired',
  'PseudonymRotated',
  'PseudonymResolved',
] as const;

/**
 * Applies one event to the directory. Every write is keyed (INSERT OR IGNORE, or an UPDATE guarded by the epoch),
 * so an event applied twice leaves the tables as applying it once did.
 */
export const applyToDirectory = (db: Database.Database, e: DecodedEvent): void => {
  const { event, record, metadata } = e;
  switch (event.type) {
    case 'NodeRegistered':
      prepared(db, 'INSERT OR IGNORE INTO pseudonym_nodes (node_id, class, live) VALUES (?, ?, 1)').run(
        event.data.nodeId,
        event.data.profile.class,
      );
      return;
    case 'NodeEnrolled':
      enrolmentApplied(db, event.data.nodeId, event.data.subscriptionId, record.position);
      return;
    case 'NodeRevoked':
    case 'NodeEnrolmentExpired':
      prepared(db, 'UPDATE pseudonym_nodes SET live = 0 WHERE node_id = ?').run(event.data.nodeId);
      return;
    case 'PseudonymRotated': {
      const { pseudonym, nodeId, epoch, trigger } = event.data;
      prepared(db,
        'INSERT OR IGNORE INTO pseudonym_directory (pseudonym, node_id, epoch, trigger, position, occurred_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(pseudonym, nodeId, epoch, trigger, record.position, metadata.occurredAt);
      prepared(db,
        'UPDATE pseudonym_nodes SET epoch = ?, pseudonym = ?, rotated_at = ? WHERE node_id = ? AND (epoch IS NULL OR epoch < ?)',
      ).run(epoch, pseudonym, e.at, nodeId, epoch);
      return;
    }
    case 'PseudonymResolved': {
      const node = prepared(db, 'SELECT node_id FROM pseudonym_directory WHERE pseudonym = ?').get(event.data.pseudonym) as
        | { node_id: string }
        | undefined;
      prepared(db,
        'INSERT OR IGNORE INTO pseudonym_resolutions (position, pseudonym, node_id, actor_id, reason, occurred_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(record.position, event.data.pseudonym, node?.node_id ?? null, metadata.actor.id, event.data.reason, metadata.occurredAt);
      return;
    }
    default:
      return;
  }
};
