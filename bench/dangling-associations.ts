import Database from 'better-sqlite3';
import { pathToFileURL } from 'node:url';
import { danglingAssociations } from '../projections/compliance/index.ts';
import { setupComplianceTables } from '../projections/compliance/tables.ts';
import { fmtMs, now, summarise } from './stats.ts';

/**
 * dangling-associations over a synthetic compliance read model (review 255): how long one page takes, the event loop
 * blocked throughout (better-sqlite3 is synchronous). Live AE associations of App-IDs whose enrolment ended several
 * times before: nothing dangles when every association was configured after the last end, the usual case; all of one
 * App-ID's dangle when they were configured before it (a cascade that dead-lettered), paged then from the start and
 * from the middle. Figures are from one run on one machine; tests never assert them.
 * Run: `node --import tsx bench/dangling-associations.ts`. The read model is not ANALYZEd, as the service's is not.
 */

interface Model {
  readonly label: string;
  readonly apps: number;
  readonly associationsPerApp: number;
  readonly ends: number;
  /** Configured before the App-ID's last enrolment end (all dangle), or after it (none does). */
  readonly dangling: boolean;
}

const MODELS: readonly Model[] = [
  { label: '10,000 live AE associations, 1 App-ID, 5 enrolment ends, none dangling', apps: 1, associationsPerApp: 10_000, ends: 5, dangling: false },
  { label: '50,000 live AE associations, 1 App-ID, 5 enrolment ends, none dangling', apps: 1, associationsPerApp: 50_000, ends: 5, dangling: false },
  { label: '200,000 live AE associations, 1 App-ID, 10 enrolment ends, none dangling', apps: 1, associationsPerApp: 200_000, ends: 10, dangling: false },
  { label: '50,000 live AE associations, 1,000 App-IDs x 20 enrolment ends, none dangling', apps: 1_000, associationsPerApp: 50, ends: 20, dangling: false },
  { label: '200,000 live AE associations, 1 App-ID, 10 enrolment ends, all dangling', apps: 1, associationsPerApp: 200_000, ends: 10, dangling: true },
];

/** A read model holding only what the query reads: associations, their credentials and configurations, the endings. */
const seed = (m: Model): Database.Database => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  setupComplianceTables(db);
  const ending = db.prepare(`INSERT INTO compliance_endings (kind, id, position, event) VALUES ('application-enrolment', ?, ?, 'ApplicationEnrolmentEnded')`);
  const credential = db.prepare(
    `INSERT INTO compliance_credentials (credential_id, owner_kind, owner_id, owner_app_id, not_after, not_after_ms, status, issued_position, status_position)
     VALUES (?, 'ae', ?, ?, '2030-01-01T00:00:00.000Z', 1893456000000, 'provisioned', ?, ?)`,
  );
  const association = db.prepare(
    `INSERT INTO compliance_associations (association_id, credential_id, node_id, status, status_position, app_id, ae_id) VALUES (?, ?, ?, 'established', ?, ?, ?)`,
  );
  const configuration = db.prepare('INSERT INTO compliance_association_configurations (association_id, position) VALUES (?, ?)');
  db.transaction(() => {
    let position = 1;
    for (let app = 0; app < m.apps; app++) {
      const appId = `Rapp${app}`;
      const configuredAt = () => position++;
      // The enrolment ends first (none dangles) or last (all do).
      if (!m.dangling) for (let e = 0; e < m.ends; e++) ending.run(appId, position++);
      for (let i = 0; i < m.associationsPerApp; i++) {
        const ae = `C${app}-${i}`;
        const at = configuredAt();
        credential.run(`${ae}-cred`, ae, appId, at, at);
        association.run(`sa-${ae}`, `${ae}-cred`, `meter-${i % 1000}`, at, appId, ae);
        configuration.run(`sa-${ae}`, at);
      }
      if (m.dangling) for (let e = 0; e < m.ends; e++) ending.run(appId, position++);
    }
  })();
  return db;
};

const LIMIT = 100;
const RUNS = 5;

export const benchDanglingAssociations = async (report: (line: string) => void): Promise<void> => {
  for (const m of MODELS) {
    const db = seed(m);
    const first = danglingAssociations(db, { limit: LIMIT });
    const samples: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const start = now();
      danglingAssociations(db, { limit: LIMIT });
      samples.push(now() - start);
    }
    let line = `${m.label}: first page (${first.length} rows) p50 ${fmtMs(summarise(samples).p50)}, max ${fmtMs(summarise(samples).max)}`;
    if (m.dangling) {
      // A page from the middle of the answer: its cursor is a row of the answer.
      const middle = danglingAssociations(db, { limit: (m.apps * m.associationsPerApp) / 2 }).at(-1)!;
      const mid: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const start = now();
        danglingAssociations(db, { limit: LIMIT }, middle);
        mid.push(now() - start);
      }
      line += `; a page from the middle p50 ${fmtMs(summarise(mid).p50)}`;
    }
    report(line);
    db.close();
  }
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchDanglingAssociations((line) => process.stdout.write(`  ${line}\n`));
