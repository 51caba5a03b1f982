/**
 * Found in review: a compliance CSV's columns were the fields of the rows at hand, so paging an export with
 * `limit` and `after` gave one header per page (a page without a `reason` had no `reason` column) and an empty
 * answer a lone `position`. Each query's header is now its row schema's, whatever the rows carry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvColumnsOf } from '../adapters/http/routes/compliance-rows.ts';
import { toCsv } from '../adapters/http/routes/csv.ts';
import { COMPLIANCE_QUERY_NAMES } from '../projections/compliance/index.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';
import { parseCsv } from './support/csv.ts';

const AUDIT_COLUMNS = [
  'position', 'eventId', 'streamId', 'revision', 'type', 'occurredAt', 'actor.id', 'actor.role', 'commandId', 'commandType',
  'correlationId', 'causationId', 'causedBy.position', 'causedBy.streamId', 'causedBy.type', 'reason', 'signature.status',
  'signature.keyFingerprint', 'signature.reason',
  // Review 188: the token an action came with, added last (a CSV read by column index finds the others where they were).
  'token.id', 'token.issuedBy',
  // Review 196: the token it was issued with.
  'token.issuedWith',
];

describe('compliance CSV columns', () => {
  let svc: TestService;
  let api: Api;
  const run = async (payload: unknown) => expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload })).status).toBe(201);
  const query = (name: string, params: Record<string, string>, accept = 'text/csv') =>
    api.call<any>('GET', '/v1/compliance/{query}', { query: name }, { token: svc.tokens.auditor, accept, query: params });

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    await run(body.createSubscription());
    // Created, and nothing provisioned under it: `provisioned` of it answers no rows (of one never created, 404).
    await run(body.createSubscription('none'));
    await run(body.registerNode('gw'));
    await run(body.enrolNode('gw'));
    await run(body.issueCredential('gw-c1', 'gw'));
    await run(body.provisionCredential('gw-c1'));
    await run(body.issueCredential('gw-c2', 'gw'));
    await run(body.configureAssociation('gw-a1', 'gw-c1', 'gw'));
    await run(body.establishAssociation('gw-a1'));
    await settled(svc);
    // A reason on the operator's last action only; the cascade's revocation with a reason and a cause.
    await run(body.revokeCredential('gw-c1', 'keyCompromise'));
    await settled(svc);
  }, 120_000);
  afterAll(async () => {
    await svc?.close();
  });

  /** Every page of `actor`'s actions, one row a page, as CSV records (header first) beside the JSON rows. */
  const pages = async (actor: string) => {
    const out: { csv: string[][]; json: Record<string, any> }[] = [];
    let after: string | undefined;
    do {
      const params = { actor, limit: '1', ...(after !== undefined ? { after } : {}) };
      const csv = await query('actions', params);
      const json = await query('actions', params, 'application/json');
      out.push({ csv: parseCsv(csv.text), json: json.body.rows[0] });
      after = csv.headers.get('credence-next-after') ?? undefined;
    } while (after !== undefined);
    return out;
  };

  it('gives every page of an export the same header, and each cell under its own column', async () => {
    const all = [...(await pages('test-operator')), ...(await pages('system:process-manager'))];
    // Given pages whose rows differ in their optional fields: with and without a reason, with and without a cause.
    expect(all.some((p) => p.json['reason'] === undefined) && all.some((p) => p.json['reason'] !== undefined)).toBe(true);
    expect(all.some((p) => p.json['causedBy'] === undefined) && all.some((p) => p.json['causedBy'] !== undefined)).toBe(true);
    for (const { csv, json } of all) {
      const [header, row] = csv;
      expect(header).toEqual(AUDIT_COLUMNS);
      expect(row).toHaveLength(AUDIT_COLUMNS.length);
      const cell = (column: string) => row![AUDIT_COLUMNS.indexOf(column)];
      expect(cell('position')).toBe(json['position']);
      expect(cell('reason')).toBe(json['reason'] ?? '');
      expect(cell('causedBy.streamId')).toBe(json['causedBy']?.streamId ?? '');
      expect(cell('signature.status')).toBe(json['signature'].status);
    }
  });

  it('gives an empty answer the header of a full one', async () => {
    expect(parseCsv((await query('actions', { actor: 'nobody' })).text)).toEqual([AUDIT_COLUMNS]);
    expect(parseCsv((await query('dangling-associations', {})).text)).toEqual([
      ['position', 'associationPosition', 'associationId', 'associationStatus', 'credentialId', 'credentialStatus', 'parent.kind', 'parent.id', 'parent.endedBy'],
    ]);
    expect(parseCsv((await query('expiring', { days: '1' })).text)).toEqual([['position', 'credentialId', 'owner.kind', 'owner.id', 'notAfter', 'status', 'owner.appId', 'owner.nodeId']]);
    expect(parseCsv((await query('provisioned', { subscription: 'none' })).text)).toEqual([
      ['position', 'enrolmentPosition', 'credentialId', 'nodeId', 'method', 'occurredAt', 'listedPosition'],
    ]);
    expect(parseCsv((await query('revocations', { reason: 'affiliationChanged' })).text)).toEqual([
      // Review 327: what the `actions` row of the same event says of its signature and token, after the columns before.
      [
        'position', 'streamId', 'kind', 'id', 'reason', 'occurredAt', 'actor', 'recordedAt',
        'signature.status', 'signature.keyFingerprint', 'signature.reason', 'token.id', 'token.issuedBy', 'token.issuedWith',
      ],
    ]);
  });

  it("names, for every query, every field its JSON rows carry (nothing lands in a column the schema lacks)", async () => {
    const params: Record<string, Record<string, string>> = {
      revocations: {},
      actions: { actor: 'system:process-manager' },
      provisioned: { subscription: 'sub-1' },
      expiring: { days: '365' },
      'dangling-associations': {},
      'dangling-credentials': {},
    };
    for (const name of COMPLIANCE_QUERY_NAMES) {
      const rows = (await query(name, params[name]!, 'application/json')).body.rows as Record<string, unknown>[];
      expect(rows.length, name).toBeGreaterThan(name === 'dangling-associations' || name === 'dangling-credentials' ? -1 : 0);
      const [header] = parseCsv(toCsv(rows, csvColumnsOf(name)));
      expect(header, name).toEqual(csvColumnsOf(name));
    }
  });
});
