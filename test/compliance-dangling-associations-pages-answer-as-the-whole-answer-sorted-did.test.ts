import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { danglingAssociations, type DanglingAssociationRow } from '../projections/compliance/index.ts';
import { setupComplianceTables } from '../projections/compliance/tables.ts';

/*
 * Review 255: dangling-associations computed every dangling row, the App-ID enrolment's by a lookup of the first end
 * after each association per end of its App-ID, sorted them all and only then cut at the cursor, on every page (3.5 s
 * a page at 200,000 live AE associations; bench/dangling-associations.ts measures it, no test asserts a time). Each
 * branch is now cut by the cursor and limited on its own, the enrolment's driven from the associations. The answer
 * must not change: on random read models, every page at every limit is the slice of the answer of 1c65e69's query
 * (below, as it was), across ties of one ending, associations under several ended parents and App-IDs enrolled again.
 */

const LIVE = `a.status IN ('configured', 'established')`;
const COLUMNS = `a.association_id, a.status AS a_status, a.status_position AS a_position, a.credential_id, COALESCE(c.status, 'unknown') AS c_status`;
const CREDENTIAL = 'LEFT JOIN compliance_credentials c ON c.credential_id = a.credential_id';
const firstEnding = (kind: string, column: string) => `
  SELECT e.position, ${COLUMNS}, e.kind AS parent_kind, e.id AS parent_id, e.event AS ended_by
  FROM compliance_endings e JOIN compliance_associations a ON a.${column} = e.id AND ${LIVE} ${CREDENTIAL}
  WHERE e.kind = '${kind}' AND e.position = (SELECT MIN(position) FROM compliance_endings WHERE kind = '${kind}' AND id = e.id)`;
const REFERENCE = `SELECT * FROM (
  SELECT c.status_position AS position, ${COLUMNS}, 'credential' AS parent_kind, c.credential_id AS parent_id,
    CASE c.status WHEN 'revoked' THEN 'CredentialRevoked' ELSE 'CredentialExpired' END AS ended_by
  FROM compliance_associations a JOIN compliance_credentials c ON c.credential_id = a.credential_id
  WHERE ${LIVE} AND c.status IN ('revoked', 'expired')
  UNION ALL ${firstEnding('node', 'node_id')}
  UNION ALL ${firstEnding('application', 'app_id')}
  UNION ALL
  SELECT e.position, ${COLUMNS}, e.kind, e.id, e.event
  FROM compliance_endings e JOIN compliance_associations a ON a.app_id = e.id AND ${LIVE}
    JOIN compliance_association_configurations k ON k.association_id = a.association_id ${CREDENTIAL}
  WHERE e.kind = 'application-enrolment'
    AND e.position = (SELECT MIN(position) FROM compliance_endings WHERE kind = 'application-enrolment' AND id = e.id AND position > k.position)
)
ORDER BY position, association_id`;

const reference = (db: Database.Database): string[] =>
  (db.prepare(REFERENCE).all() as Record<string, unknown>[]).map((r) =>
    [r['position'], r['association_id'], r['a_status'], r['a_position'], r['credential_id'], r['c_status'], r['parent_kind'], r['parent_id'], r['ended_by']].join('|'),
  );
const asReference = (r: DanglingAssociationRow): string =>
  [r.position, r.associationId, r.associationStatus, r.associationPosition, r.credentialId, r.credentialStatus, r.parent.kind, r.parent.id, r.parent.endedBy].join('|');

/** A small deterministic generator (mulberry32): the same models on every run. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

/**
 * A read model as the projection writes it, one event per position: nodes and App-IDs ending (some more than once),
 * App-IDs' enrolments ending between associations configured under them, credentials ending, associations of every
 * status, a few on a credential never read (`unknown`) or with no configuration recorded.
 */
const model = (seed: number): Database.Database => {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  setupComplianceTables(db);
  const nodes = ['meter-1', 'meter-2', 'meter-3'];
  const apps = ['Rbilling', 'Rgrid', 'Rtariff'];
  const credentials: string[] = [];
  let position = 1;
  const ending = db.prepare('INSERT OR IGNORE INTO compliance_endings (kind, id, position, event) VALUES (?, ?, ?, ?)');
  const credential = db.prepare(
    `INSERT INTO compliance_credentials (credential_id, owner_kind, owner_id, not_after, not_after_ms, status, issued_position, status_position)
     VALUES (?, 'node', 'meter-1', '2030-01-01T00:00:00.000Z', 1893456000000, 'provisioned', ?, ?)`,
  );
  const association = db.prepare(
    `INSERT INTO compliance_associations (association_id, credential_id, node_id, status, status_position, app_id, ae_id) VALUES (?, ?, ?, 'configured', ?, ?, ?)`,
  );
  const configuration = db.prepare('INSERT INTO compliance_association_configurations (association_id, position) VALUES (?, ?)');
  const steps = 40 + Math.floor(rnd() * 80);
  let associations = 0;
  for (let i = 0; i < steps; i++) {
    const p = position++;
    const roll = rnd();
    if (roll < 0.15 || credentials.length === 0) {
      const id = `cred-${credentials.length}`;
      credentials.push(id);
      credential.run(id, p, p);
    } else if (roll < 0.55) {
      // Several associations at nearby positions, ids out of log order: ties of one ending sort by id.
      const id = `sa-${String.fromCharCode(97 + Math.floor(rnd() * 26))}${associations++}`;
      const app = rnd() < 0.6 ? pick(apps) : null;
      const cred = rnd() < 0.1 ? 'cred-never-read' : pick(credentials);
      association.run(id, cred, pick(nodes), p, app, app === null ? null : `C${associations}`);
      if (rnd() < 0.95) configuration.run(id, p);
    } else if (roll < 0.68) {
      db.prepare(`UPDATE compliance_associations SET status = ?, status_position = ? WHERE association_id = (
        SELECT association_id FROM compliance_associations ORDER BY association_id LIMIT 1 OFFSET ?)`).run(
        pick(['established', 'established', 'revoked', 'expired']), p, Math.floor(rnd() * Math.max(associations, 1)));
    } else if (roll < 0.76) {
      db.prepare(`UPDATE compliance_credentials SET status = ?, status_position = ? WHERE credential_id = ?`).run(pick(['revoked', 'expired']), p, pick(credentials));
    } else if (roll < 0.82) {
      ending.run('node', pick(nodes), p, pick(['NodeRevoked', 'NodeEnrolmentExpired']));
    } else if (roll < 0.86) {
      ending.run('application', pick(apps), p, 'ApplicationRevoked');
    } else {
      ending.run('application-enrolment', pick(apps), p, 'ApplicationEnrolmentEnded');
    }
  }
  return db;
};

/** Every page at `limit`, each after the last row of the page before, until one comes back short (or too many did). */
const pages = (db: Database.Database, limit: number, most: number): string[] => {
  const rows: string[] = [];
  let after: DanglingAssociationRow | undefined;
  // A cursor that does not move on would page forever: one page past the answer's is the most there can be.
  for (let i = 0; i <= most / limit + 1; i++) {
    const page = danglingAssociations(db, { limit }, after);
    rows.push(...page.map(asReference));
    if (page.length < limit) return rows;
    after = page.at(-1)!;
  }
  return rows;
};

describe('dangling-associations pages the answer the whole answer sorted gave', () => {
  it('on 40 random read models, at limits 1, 2, 3, 7 and none: the same rows in the same order, each once', () => {
    let rowsSeen = 0;
    const parents = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) {
      const db = model(seed);
      const expected = reference(db);
      rowsSeen += expected.length;
      for (const r of expected) parents.add(r.split('|')[6]!);
      expect(danglingAssociations(db).map(asReference), `seed ${seed}`).toEqual(expected);
      for (const limit of [1, 2, 3, 7]) expect(pages(db, limit, expected.length), `seed ${seed}, limit ${limit}`).toEqual(expected);
      db.close();
    }
    // The models reach every branch, with rows to page through.
    expect(rowsSeen).toBeGreaterThan(200);
    expect([...parents].sort()).toEqual(['application', 'application-enrolment', 'credential', 'node']);
  });

  it('an association of an App-ID enrolled again is listed at the first end after it was configured, not at an earlier or later one', () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupComplianceTables(db);
    const end = db.prepare(`INSERT INTO compliance_endings (kind, id, position, event) VALUES ('application-enrolment', 'Rbilling', ?, 'ApplicationEnrolmentEnded')`);
    const associate = (id: string, at: number) => {
      db.prepare(`INSERT INTO compliance_associations VALUES (?, 'cred-1', 'meter-1', 'established', ?, 'Rbilling', ?)`).run(id, at, id);
      db.prepare('INSERT INTO compliance_association_configurations VALUES (?, ?)').run(id, at);
    };
    associate('sa-1', 1);
    end.run(2);
    associate('sa-2', 3);
    associate('sa-3', 4);
    end.run(5);
    associate('sa-4', 6);
    expect(danglingAssociations(db).map((r) => [r.associationId, r.position, r.credentialStatus])).toEqual([
      ['sa-1', 2n, 'unknown'],
      ['sa-2', 5n, 'unknown'],
      ['sa-3', 5n, 'unknown'],
    ]);
    expect(danglingAssociations(db, { limit: 1 }, { position: 5n, associationId: 'sa-2' }).map((r) => r.associationId)).toEqual(['sa-3']);
    db.close();
  });
});
