/**
 * Found in review: an operator could send any stored event's id as a command's `causationId`, and the audit
 * timeline, the compliance actions and the dependents then showed that event as the cause (`causedBy`), as if the
 * cascade had done it. Only the engine's own system actors set a causation the read models resolve; an operator's
 * is kept and shown as given (`causationId`).
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cascadeFrom, walkDependents } from '../projections/cascade/index.ts';
import { setupApplicationCredentials } from '../projections/cascade/application-credentials.ts';
import { setupBootstrapProvisioned } from '../projections/cascade/bootstrap-provisioned.ts';
import { addDependent, setupDependents } from '../projections/cascade/dependents.ts';
import { addEnding } from '../projections/cascade/endings.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { commandAsOperator, meter1Enrolled } from './support/operator-commands-over-http.ts';
import { startTestService, type TestService } from './support/service.ts';

interface Entry {
  type: string;
  actor: { id: string; role: string };
  causationId: string;
  correlationId: string;
  causedBy?: { position: string; streamId: string; type: string };
}

describe("an operator's causationId over HTTP", () => {
  let svc: TestService;
  let api: Api;
  let nodeRevoked: string;
  const run = (payload: unknown) => commandAsOperator<{ events: { id: string }[] }>(api, svc, payload);
  const timeline = async (kind: string, id: string): Promise<Entry[]> =>
    (await api.call<{ entries: Entry[] }>('GET', '/v1/entities/{kind}/{id}/timeline', { kind, id }, { token: svc.tokens.auditor })).body.entries;

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    await meter1Enrolled(run);
    await run(body.issueCredential('meter-1-svc', 'meter-1'));
    await run(body.registerNode('meter-2'));
    await run(body.issueCredential('meter-2-svc', 'meter-2'));
    nodeRevoked = (await run(body.revokeNode('meter-1'))).events[0]!.id;
    // Given: an operator's revocation that names the unrelated node revocation as its cause.
    await run({ ...body.revokeCredential('meter-2-svc'), causationId: nodeRevoked, correlationId: 'x' });
    await settled(svc);
  }, 120_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('the timeline keeps the causationId as sent and names no cause', async () => {
    const revoked = (await timeline('credential', 'meter-2-svc')).find((e) => e.type === 'CredentialRevoked')!;
    expect(revoked).toMatchObject({ actor: { id: 'test-operator', role: 'operator' }, causationId: nodeRevoked, correlationId: 'x' });
    expect(revoked.causedBy).toBeUndefined();
  });

  it("the compliance actions of the operator name no cause either, in JSON and in CSV", async () => {
    const json = await api.call<{ rows: (Entry & { streamId: string })[] }>('GET', '/v1/compliance/{query}', { query: 'actions' }, {
      token: svc.tokens.auditor,
      query: { actor: 'test-operator' },
    });
    const row = json.body.rows.find((r) => r.streamId === 'credential-meter-2-svc' && r.type === 'CredentialRevoked')!;
    expect(row.causationId).toBe(nodeRevoked);
    expect(json.body.rows.every((r) => r.causedBy === undefined)).toBe(true);
    const csv = await api.call<string>('GET', '/v1/compliance/{query}', { query: 'actions' }, {
      token: svc.tokens.auditor,
      accept: 'text/csv',
      query: { actor: 'test-operator' },
    });
    const [header, ...lines] = csv.body.trimEnd().split('\r\n');
    const causedBy = header!.split(',').indexOf('causedBy.streamId');
    expect(lines.every((l) => l.split(',')[causedBy] === '')).toBe(true);
  });

  it('the dependents show the credential ended directly, not by a cascade', async () => {
    const reply = await api.call<{ dependents: { streamId: string; cascade: boolean; ending?: { type: string; causedBy?: unknown } }[] }>(
      'GET',
      '/v1/entities/{kind}/{id}/dependents',
      { kind: 'node', id: 'meter-2' },
      { token: svc.tokens.auditor },
    );
    const credential = reply.body.dependents.find((d) => d.streamId === 'credential-meter-2-svc')!;
    expect(credential).toMatchObject({ cascade: false, ending: { type: 'CredentialRevoked' } });
    expect(credential.ending!.causedBy).toBeUndefined();
  });

  it("the cascade's own revocation still names the node revocation that caused it", async () => {
    const cascaded = (await timeline('credential', 'meter-1-svc')).find((e) => e.type === 'CredentialRevoked')!;
    expect(cascaded.actor.role).toBe('system');
    expect(cascaded.causedBy).toMatchObject({ streamId: 'node-meter-1', type: 'NodeRevoked' });
    const reply = await api.call<{ dependents: { streamId: string; cascade: boolean; ending?: { causedBy?: unknown } }[] }>(
      'GET',
      '/v1/entities/{kind}/{id}/dependents',
      { kind: 'node', id: 'meter-1' },
      { token: svc.tokens.auditor },
    );
    const credential = reply.body.dependents.find((d) => d.streamId === 'credential-meter-1-svc')!;
    expect(credential).toMatchObject({ cascade: true, ending: { causedBy: { streamId: 'node-meter-1', type: 'NodeRevoked' } } });
  });
});

describe('the cascade flag of the dependents', () => {
  it("does not follow a chain of causes through an operator's ending that names the root's as its cause", () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupDependents(db);
    // The walk reads what a keyCompromise takes beside the holder relations from these too (review 329).
    setupApplicationCredentials(db);
    setupBootstrapProvisioned(db);
    addDependent(db, 'node-n', 'credential-of-node', 'credential-c');
    addDependent(db, 'credential-c', 'association-of-credential', 'association-a');
    // Given: the node revoked by an operator; its credential revoked by an operator who sent the node's revocation as
    // causationId; the credential's association then ended by the cascade of that credential's revocation.
    addEnding(db, { streamId: 'node-n', eventId: 'e-node', position: 10n, type: 'NodeRevoked', causeEventId: 'cmd-1', byCascade: false });
    addEnding(db, { streamId: 'credential-c', eventId: 'e-cred', position: 11n, type: 'CredentialRevoked', causeEventId: 'e-node', byCascade: false });
    addEnding(db, { streamId: 'association-a', eventId: 'e-assoc', position: 12n, type: 'AssociationRevoked', causeEventId: 'e-cred', byCascade: true });
    // Then: neither is the node's cascade; the association is the cascade of the credential's own revocation.
    expect(Object.fromEntries(cascadeFrom(db, 'node-n', walkDependents(db, 'node-n', 10).dependents))).toEqual({
      'credential-c': false,
      'association-a': false,
    });
    expect(Object.fromEntries(cascadeFrom(db, 'credential-c', walkDependents(db, 'credential-c', 10).dependents))).toEqual({ 'association-a': true });
    db.close();
  });
});
