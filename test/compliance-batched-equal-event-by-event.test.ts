import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { DecodedEvent } from '../domain/stored.ts';
import { COMPLIANCE_EVENT_TYPES, complianceProjection } from '../projections/compliance/index.ts';
import { applyComplianceByStatement } from './support/compliance-by-statement.ts';

const TABLES = ['compliance_revocations', 'compliance_enrolments', 'compliance_enrolment_history', 'compliance_credentials', 'compliance_provisioned', 'compliance_associations', 'compliance_identifiers', 'compliance_pending_provisionings', 'compliance_subscriptions', 'compliance_rotations', 'compliance_lapses', 'compliance_endings', 'compliance_association_configurations'];

const dump = (db: Database.Database): Record<string, unknown[]> =>
  Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()]));

/** A small deterministic generator (the failing seed is printed by the assertion's message). */
const random = (seed: number) => () => {
  seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
  return seed / 2 ** 32;
};

const REASONS = ['keyCompromise', 'superseded', 'cessationOfOperation'];

/**
 * Events of the compliance types over a handful of nodes, credentials and associations, in an order no machine would
 * accept: enrolments replaced and expired, credentials provisioned before they are issued or with no enrolment,
 * owned by applications, statuses delivered twice or late (positions out of order), revocations of every kind,
 * subscriptions created (their notAfter within the history), terminated and expired, before or after provisionings,
 * rotations started (their overlap's end within the history) and abandoned, and credentials revoked by the cascade
 * naming an earlier event as their cause (review 197: dated back to an overlap's end or a late lapse).
 */
const history = (next: () => number, length: number): DecodedEvent[] => {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const nodes = ['n1', 'n2', 'n3'];
  const credentials = ['c1', 'c2', 'c3', 'c4'];
  const associations = ['a1', 'a2', 'a3'];
  const events: DecodedEvent[] = [];
  for (let i = 0; i < length; i++) {
    // Mostly forward, sometimes an earlier position again (a late or repeated delivery).
    const position = next() < 0.15 && events.length > 0 ? pick(events).record.position : BigInt(i + 1);
    const kind = Math.floor(next() * 15);
    // The cascade's revocations name the event they react to (an enrolment's end, when it is one) as their causationId.
    let meta: Record<string, unknown> = { actor: { id: 'operator-1', role: 'operator' } };
    let streamId: string;
    let type: string;
    let data: Record<string, unknown>;
    const node = pick(nodes);
    const credential = pick(credentials);
    const association = pick(associations);
    switch (kind) {
      case 0:
        // CSE-IDs move between nodes now and then (a device replaced), so a credential's node is the latest naming's.
        [streamId, type, data] = [`node-${node}`, 'NodeEnrolled', { nodeId: node, subscriptionId: pick(['s1', 's2']), cseId: pick(['/cse-a', '/cse-b', `/${node}`]) }];
        break;
      case 1:
        [streamId, type, data] = [`node-${node}`, 'NodeEnrolmentExpired', { nodeId: node, subscriptionId: pick(['s1', 's2']) }];
        break;
      case 2:
        [streamId, type, data] = [`node-${node}`, 'NodeRevoked', { nodeId: node, reason: pick(REASONS) }];
        break;
      case 3: {
        const draw = next();
        const owner =
          draw < 0.5 ? { kind: 'node', id: pick(nodes) } : draw < 0.65 ? { kind: 'cse', id: pick(['/cse-a', '/cse-b', '/n1']) } : draw < 0.72 ? { kind: 'ae', id: pick(['Cae-1', 'Cae-2']) } : draw < 0.85 ? { kind: 'ae', id: pick(['Cae-1', 'Cae-2']), appId: pick(['Rbilling', 'Rother']) } : { kind: 'app', id: 'billing' };
        [streamId, type, data] = [`credential-${credential}`, 'CredentialIssued', { credentialId: credential, owner, notAfter: `2031-0${1 + Math.floor(next() * 9)}-01T00:00:00.000Z` }];
        break;
      }
      case 4:
      case 5:
        [streamId, type, data] = [`credential-${credential}`, 'CredentialProvisioned', { credentialId: credential, method: pick(['pre-provisioning', 'remote']) }];
        break;
      case 6:
        [streamId, type, data] = [`credential-${credential}`, 'CredentialExpired', { credentialId: credential }];
        break;
      case 7:
        [streamId, type, data] = [`credential-${credential}`, 'CredentialRevoked', { credentialId: credential, reason: pick(REASONS) }];
        if (next() < 0.5 && events.length > 0) {
          const ends = events.filter((x) => x.event.type === 'NodeEnrolmentExpired');
          const cause = ends.length > 0 && next() < 0.8 ? pick(ends) : pick(events);
          meta = { actor: { id: 'system:process-manager', role: 'system' }, commandType: 'revokeCredential', causationId: cause.record.id };
        }
        break;
      case 8: {
        // Of the App-IDs the associations name too: what dangling-associations reads of them (review 249).
        const app = pick(['billing', 'Rbilling', 'Rother']);
        [streamId, type, data] = next() < 0.5
          ? [`application-${app}`, 'ApplicationRevoked', { appId: app, reason: pick(REASONS) }]
          : [`application-${app}`, 'ApplicationEnrolmentEnded', { appId: app, credentialId: credential, reason: pick(REASONS) }];
        break;
      }
      case 9:
        [streamId, type, data] = [`association-${association}`, 'AssociationConfigured', {
          associationId: association, credentialId: credential, nodeId: node,
          registree: next() < 0.5 ? { kind: 'cse', id: pick(['/cse-a', '/cse-b']) } : { kind: 'ae', id: pick(['Cae-1', 'Cae-2']), appId: pick(['Rbilling', 'Rother']) },
        }];
        break;
      case 10:
        [streamId, type, data] = [`association-${association}`, pick(['AssociationEstablished', 'AssociationExpired']), { associationId: association }];
        break;
      case 12: {
        // A notAfter within the history's minutes: provisionings after it are past it (review 155).
        const subscription = pick(['s1', 's2']);
        const notAfter = new Date(Date.UTC(2030, 0, 1) + Math.floor(next() * 70) * 60_000).toISOString();
        [streamId, type, data] = [`subscription-${subscription}`, 'SubscriptionCreated', { subscriptionId: subscription, subscriber: 'City Utilities', notBefore: '2029-01-01T00:00:00.000Z', notAfter }];
        break;
      }
      case 13: {
        const subscription = pick(['s1', 's2']);
        [streamId, type, data] = [`subscription-${subscription}`, ...(next() < 0.5 ? (['SubscriptionTerminated', { subscriptionId: subscription, reason: 'contract ended' }] as const) : (['SubscriptionExpired', { subscriptionId: subscription }] as const))];
        break;
      }
      case 14: {
        const overlapEndsAt = new Date(Date.UTC(2030, 0, 1) + Math.floor(next() * 70) * 60_000).toISOString();
        [streamId, type, data] = next() < 0.7
          ? [`credential-${credential}`, 'CredentialRotationStarted', { credentialId: credential, successorId: pick(credentials), overlapEndsAt }]
          : [`credential-${credential}`, 'CredentialRotationAbandoned', { credentialId: credential, successorId: pick(credentials) }];
        break;
      }
      default:
        [streamId, type, data] = [`association-${association}`, 'AssociationRevoked', { associationId: association, reason: pick(REASONS) }];
        break;
    }
    const occurredAt = new Date(Date.UTC(2030, 0, 1) + i * 60_000).toISOString();
    events.push({
      record: { position, streamId, id: `event-${i}`, revision: 0n, type },
      event: { type, data },
      metadata: { occurredAt, ...meta },
      at: Date.parse(occurredAt),
    } as unknown as DecodedEvent);
  }
  return events;
};

const opened = (safeIntegers: boolean): Database.Database => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(safeIntegers);
  return db;
};

/** Fresh compliance tables on a new connection. */
const tables = (safeIntegers: boolean): Database.Database => {
  const db = opened(safeIntegers);
  complianceProjection().setup(db);
  return db;
};

describe('the compliance read model, live and in batches, against its rules stated as SQL event by event', () => {
  it('holds exactly the rows of the SQL reference, live (each event on its own) and for any cut into batches', () => {
    for (let seed = 1; seed <= 120; seed++) {
      const next = random(seed);
      const events = history(next, 10 + Math.floor(next() * 60));
      const safeIntegers = seed % 2 === 0;

      // The rules stated independently (test/support/compliance-by-statement.ts), one SQL statement per write.
      const reference = tables(safeIntegers);
      for (const e of events) reference.transaction(() => applyComplianceByStatement(reference, e))();
      const expected = dump(reference);

      // Live: the runner calls `apply` outside any batch, each event in its own transaction.
      const live = tables(safeIntegers);
      const one = complianceProjection();
      for (const e of events) live.transaction(() => one.apply!(live, e))();
      expect(dump(live), `seed ${seed}, live`).toEqual(expected);

      const batched = tables(safeIntegers);
      const many = complianceProjection();
      for (let i = 0; i < events.length; ) {
        const size = 1 + Math.floor(next() * 25);
        batched.transaction(() => {
          const batch = many.beginBatch!(batched);
          for (const e of events.slice(i, i + size)) many.apply!(batched, e);
          batch.flush();
        })();
        i += size;
      }
      expect(dump(batched), `seed ${seed}, batched`).toEqual(expected);
    }
  });

  it('is compared on every event type the projection takes (a type added to apply.ts alone would go unnoticed)', () => {
    // The reference states the rules a second time: a compliance event type this generator never produces is one
    // whose two statements nothing compares (batch.ts passes over a type it does not know).
    const generated = new Set<string>();
    for (let seed = 1; seed <= 120; seed++) {
      const next = random(seed);
      for (const e of history(next, 10 + Math.floor(next() * 60))) generated.add(e.event.type);
    }
    expect([...generated].sort()).toEqual([...COMPLIANCE_EVENT_TYPES].sort());
  });

  it('writes nothing when its batch is discarded, and applies at once outside a batch', () => {
    const db = opened(true);
    const p = complianceProjection();
    p.setup(db);
    const stored = (position: bigint, streamId: string, type: string, data: Record<string, unknown>): DecodedEvent =>
      ({
        record: { position, streamId, id: `e${position}`, revision: 0n, type },
        event: { type, data },
        metadata: { occurredAt: '2030-01-01T00:00:00.000Z', actor: { id: 'operator-1', role: 'operator' } },
        at: 0,
      }) as unknown as DecodedEvent;
    const issued = stored(1n, 'credential-c1', 'CredentialIssued', { credentialId: 'c1', owner: { kind: 'node', id: 'n1' }, notAfter: '2031-01-01T00:00:00.000Z' });
    const enrolled = stored(2n, 'node-n1', 'NodeEnrolled', { nodeId: 'n1', subscriptionId: 's1', cseId: '/n1' });
    const batch = p.beginBatch!(db);
    p.apply!(db, issued);
    batch.discard();
    expect(dump(db)['compliance_credentials']).toEqual([]);
    p.apply!(db, enrolled);
    expect(dump(db)['compliance_enrolments']).toEqual([{ node_id: 'n1', subscription_id: 's1', position: 2n }]);
  });

  it('drops the revocations-by-reason index no query read from a read model written before, and reads a reason through the indexes that lead with it', () => {
    const db = opened(true);
    complianceProjection().setup(db);
    db.exec('CREATE INDEX compliance_revocations_reason ON compliance_revocations (reason, at)');
    complianceProjection().setup(db);
    const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'compliance_revocations'").all() as { name: string }[]).map((r) => r.name);
    expect(indexes).toEqual([
      'compliance_revocations_at',
      'compliance_revocations_recorded',
      'compliance_revocations_reason_position',
      'compliance_revocations_reason_at',
      'compliance_revocations_reason_recorded',
    ]);
    // Review 461: the query names the reason only when one is asked for, and an index leading with it serves it.
    const plan = db
      .prepare('EXPLAIN QUERY PLAN SELECT * FROM compliance_revocations WHERE at >= ? AND at < ? AND reason = ? ORDER BY at DESC, position DESC')
      .all(0, 1, 'keyCompromise') as { detail: string }[];
    expect(plan.map((r) => r.detail).join('\n')).toContain('USING INDEX compliance_revocations_reason_at');
  });
});
