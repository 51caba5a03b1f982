import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';

/*
 * A provisioning waiting for its node (review 48). A credential issued to a CSE-ID or AE-ID counts under the node its
 * identifier names at the provisioning; provisioned before any event named the identifier (the usual pre-provisioning
 * order: issue, provision, then the first association of the AE), it counted under nothing, for good. It waits here
 * instead, and the first event that names the identifier (an association's Registree, or a node's enrolment for a
 * CSE-ID; for an App-ID's instance, `app-ae`, an association of it established, never one only configured: review 49)
 * records it under the enrolment that node held at the provisioning (review 101), keeping the provisioning's own
 * position, method and time, listed at that event; enrolled under none then, it is not recorded. A credential that
 * ends (revoked, expired) before that waits no more: it was never on a node. One key per credential, first insert wins, as for the provisionings themselves.
 */

export interface PendingProvisioning {
  readonly credential_id: string;
  readonly kind: string;
  readonly id: string;
  readonly method: string;
  readonly position: bigint | number;
  readonly occurred_at: string;
  /** The provisioning's instant (epoch ms): whether its subscription was in force then (review 155). */
  readonly at: bigint | number;
}

const COLUMNS = ['credential_id', 'kind', 'id', 'method', 'position', 'occurred_at', 'at'] as const;

/** Identifier keys are `kind\nid`, as batch.ts keys them. */
const split = (key: string): [string, string] => [key.slice(0, key.indexOf('\n')), key.slice(key.indexOf('\n') + 1)];

/**
 * The pending provisionings a batch sees: those stored for the identifiers its events name (read once), and those it
 * adds. Applied in order in memory; `flush` writes where the events left them.
 */
export const pendingProvisionings = (db: Database.Database, named: ReadonlySet<string>) => {
  const byIdentifier = new Map<string, Map<string, PendingProvisioning>>();
  const keyOf = (row: { kind: string; id: string }): string => `${row.kind}\n${row.id}`;
  if (named.size > 0) {
    const ids = JSON.stringify([...new Set([...named].map((key) => split(key)[1]))]);
    for (const row of prepared(db, 'SELECT * FROM compliance_pending_provisionings WHERE id IN (SELECT value FROM json_each(?))').all(ids) as PendingProvisioning[]) {
      const key = keyOf(row);
      if (!named.has(key)) continue;
      if (!byIdentifier.has(key)) byIdentifier.set(key, new Map());
      byIdentifier.get(key)!.set(row.credential_id, row);
    }
  }
  const created = new Set<PendingProvisioning>();
  const resolved = new Set<string>();
  const ended = new Set<string>();
  return {
    /** The provisioning waits for its identifier's first naming (a stored one for the credential wins). */
    add(row: PendingProvisioning): void {
      const key = keyOf(row);
      const waiting = byIdentifier.get(key) ?? new Map<string, PendingProvisioning>();
      byIdentifier.set(key, waiting);
      if (waiting.has(row.credential_id)) return;
      waiting.set(row.credential_id, row);
      created.add(row);
    },
    /** The credential ended: nothing of it waits any more. */
    end(credentialId: string): void {
      ended.add(credentialId);
      for (const waiting of byIdentifier.values()) waiting.delete(credentialId);
    },
    /** The identifier is named: those waiting for it, taken (by credential id). */
    take(key: string): PendingProvisioning[] {
      const waiting = byIdentifier.get(key);
      if (waiting === undefined || waiting.size === 0) return [];
      byIdentifier.delete(key);
      resolved.add(key);
      return [...waiting.values()].sort((a, b) => (a.credential_id < b.credential_id ? -1 : a.credential_id > b.credential_id ? 1 : 0));
    },
    flush(): void {
      if (ended.size > 0) prepared(db, 'DELETE FROM compliance_pending_provisionings WHERE credential_id IN (SELECT value FROM json_each(?))').run(JSON.stringify([...ended]));
      for (const key of resolved) prepared(db, 'DELETE FROM compliance_pending_provisionings WHERE kind = ? AND id = ?').run(...split(key));
      const insert = prepared(db, `INSERT OR IGNORE INTO compliance_pending_provisionings (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`);
      for (const row of created) {
        if (byIdentifier.get(keyOf(row))?.get(row.credential_id) === row) insert.run(...COLUMNS.map((c) => row[c]));
      }
    },
  };
};
