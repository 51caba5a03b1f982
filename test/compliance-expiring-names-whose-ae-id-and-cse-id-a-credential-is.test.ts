import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { csvColumnsOf } from '../adapters/http/routes/compliance-rows.ts';
import { toCsv } from '../adapters/http/routes/csv.ts';
import { toWire } from '../adapters/http/routes/wire.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { ComplianceAnswerJson } from '../adapters/client/answers.ts';
import { answerQuery, COMPLIANCE_QUERIES, type ExpiringRow } from '../projections/compliance/index.ts';
import { enrolledApplication } from './support/credential-holders.ts';
import { at, cmd, T0 } from './support/fleet.ts';
import { parseCsv } from './support/csv.ts';

/*
 * Review 155: two App-IDs' credentials under one AE-ID came back from `expiring` as the same owner {kind: 'ae', id}, as
 * if one AE's; the read model keeps the App-ID an AE-ID credential names, and the node a CSE-ID one names. The row says
 * both when known (`owner.appId`, `owner.nodeId`), and so does the CSV, in columns after those it had.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const aeOf = (credentialId: string, appId: string) => cmd.issueCredential(credentialId, 'meter-1', at(100), { owner: { kind: 'ae', id: 'Cx', appId } });

describe('expiring names whose AE-ID and CSE-ID a credential is', () => {
  it('as JSON rows and CSV columns', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
    await enrolledApplication(c.engine, 'RA');
    await enrolledApplication(c.engine, 'RB');
    for (const x of [
      aeOf('ra-ae', 'RA'),
      aeOf('rb-ae', 'RB'),
      cmd.issueCredential('cse-1', 'meter-1', at(100), { owner: { kind: 'cse', id: '/cse-meter-1', nodeId: 'meter-1' } }),
      cmd.issueCredential('cred-1', 'meter-1', at(100)),
    ]) await c.engine.execute(x);
    await c.settle();

    const params = COMPLIANCE_QUERIES.expiring.params.parse({ days: '120' });
    const rows = answerQuery('expiring', c.readModels, params, new Date(T0)).rows as readonly ExpiringRow[];
    const owners = Object.fromEntries(rows.map((r) => [r.credentialId, r.owner]));
    expect(owners).toMatchObject({
      'ra-ae': { kind: 'ae', id: 'Cx', appId: 'RA' },
      'rb-ae': { kind: 'ae', id: 'Cx', appId: 'RB' },
      'cse-1': { kind: 'cse', id: '/cse-meter-1', nodeId: 'meter-1' },
      'cred-1': { kind: 'node', id: 'meter-1' },
    });
    expect(owners['cred-1']).toEqual({ kind: 'node', id: 'meter-1' });

    // The client reads the wire rows as they are.
    const wire = toWire(rows) as Record<string, unknown>[];
    expect(ComplianceAnswerJson.parse({ query: 'expiring', params: {}, rows: wire }).rows).toEqual(wire);

    const [header, ...records] = parseCsv(toCsv(wire, csvColumnsOf('expiring')));
    // The columns it had keep their places; the new ones come after them.
    expect(header).toEqual(['position', 'credentialId', 'owner.kind', 'owner.id', 'notAfter', 'status', 'owner.appId', 'owner.nodeId']);
    const byId = Object.fromEntries(records.map((r) => [r[1], r]));
    expect(byId['ra-ae']!.slice(2, 4).concat(byId['ra-ae']!.slice(6))).toEqual(['ae', 'Cx', 'RA', '']);
    expect(byId['rb-ae']!.slice(6)).toEqual(['RB', '']);
    expect(byId['cse-1']!.slice(6)).toEqual(['', 'meter-1']);
  });
});
