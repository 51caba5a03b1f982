/**
 * Review 327 (LOW, non-repudiation): a revocation whose request signature fails was listed by `revocations` as its
 * actor's with nothing showing it failed. A CredentialRevoked written around the engine with another revocation's
 * signed metadata read exactly as the genuine one, while `actions` said `invalid` / `does_not_verify` of the same
 * event. Each `revocations` row now carries what the `actions` row of its event carries: the signature's status (and
 * why it is `invalid`) and the API token the command came with, read from the same audit trail, never judged again.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import type { Engine } from '../adapters/engine/index.ts';
import { csvColumnsOf } from '../adapters/http/routes/compliance-rows.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/index.ts';
import { signCommand, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { answerQuery, COMPLIANCE_QUERIES } from '../projections/compliance/index.ts';
import { body, openApi, settled } from './http-conformance.fixtures.ts';
import { runCli } from './support/cli.ts';
import { parseCsv } from './support/csv.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { AUDIENCE } from './support/signed-fleet.ts';

const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const policy: RequestSigningPolicyInput = {
  audience: AUDIENCE,
  require: ['revokeCredential'],
  keys: [{ actorId: operator.id, roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(alice.publicKey) }],
};

/** meter-1 with cred-1 and cred-2, meter-2 with cred-3, each issued (the commands' own form: the engine's, or a request body). */
const FLEET = [
  ['createSubscription', 'sub-1'], ['registerNode', 'meter-1'], ['enrolNode', 'meter-1'], ['issueCredential', 'cred-1', 'meter-1'],
  ['issueCredential', 'cred-2', 'meter-1'], ['registerNode', 'meter-2'], ['enrolNode', 'meter-2'], ['issueCredential', 'cred-3', 'meter-2'],
] as const;

/**
 * Given FLEET: cred-1 revoked by a request alice signed, then a CredentialRevoked of cred-2 appended straight to the
 * store with cred-1's revocation's metadata (its signature over other data), then meter-2 revoked unsigned (the policy
 * asks no signature of it), whose cascade revokes cred-3 as the system actor.
 */
const revokeSignedForgedAndCascaded = async (c: { engine: Engine; store: EventStore }): Promise<void> => {
  const request = cmd.revokeCredential('cred-1');
  const withId = { ...request, metadata: { ...request.metadata, commandId: crypto.randomUUID() } };
  await c.engine.execute(signCommand(withId, { algorithm: 'ed25519', secretKey: alice.secretKey }, { audience: AUDIENCE, issuedAt: c.engine.clock.now(), lifetimeSeconds: 300 }));
  const genuine = (await c.store.readStream('credential-cred-1')).at(-1)!;
  const cred2 = await c.store.readStream('credential-cred-2');
  await c.store.appendToStream(
    'credential-cred-2',
    [{ id: crypto.randomUUID(), type: 'CredentialRevoked', data: { ...genuine.data, credentialId: 'cred-2' }, metadata: genuine.metadata }],
    { expectedRevision: ExpectedRevision.exact(cred2.at(-1)!.revision) },
  );
  await c.engine.execute(command('revokeNode', { nodeId: 'meter-2', reason: 'keyCompromise' }, { actor: operator }));
};

type Row = Record<string, any>;
const byPosition = (rows: readonly Row[]): Map<string, Row> => new Map(rows.map((r) => [String(r['position']), r]));

describe('compliance revocations say whether each one\'s signature verified, as actions do (review 327)', () => {
  it('a revocation written with another one\'s signed metadata is `invalid` / `does_not_verify` in its revocations row', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), signing: policy });
    try {
      for (const [type, id, owner] of FLEET) await c.engine.execute((cmd[type] as (...a: string[]) => Parameters<Engine['execute']>[0])(id, ...(owner !== undefined ? [owner] : [])));
      await revokeSignedForgedAndCascaded(c);
      await c.settle();
      const now = c.engine.clock.now();
      const ask = (name: 'revocations' | 'actions', params: Record<string, string>) =>
        answerQuery(name, c.readModels, COMPLIANCE_QUERIES[name].params.parse(params), now).rows as readonly Row[];

      const credentials = ask('revocations', {}).filter((r) => r['kind'] === 'credential');
      expect(credentials.map((r) => [r['id'], r['actor'], r['signature']])).toEqual([
        ['cred-1', operator.id, { status: 'verified', keyFingerprint: expect.stringMatching(/^sha256:/) }],
        ['cred-2', operator.id, { status: 'invalid', keyFingerprint: expect.stringMatching(/^sha256:/), reason: 'does_not_verify' }],
        ['cred-3', 'system:process-manager', { status: 'unsigned' }],
      ]);
      // Each row says what the `actions` row of the same event says, the cascade's (no request signature) too.
      const actions = byPosition([...ask('actions', { actor: operator.id }), ...ask('actions', { actor: 'system:process-manager' })]);
      for (const row of ask('revocations', {})) {
        const action = actions.get(String(row['position']))!;
        expect(row['signature'], row['id']).toEqual(action['signature']);
        expect(row['token'], row['id']).toEqual(action['token']);
      }
    } finally {
      await c.close();
    }
  });

  it('over HTTP, JSON and CSV carry the signature and the token, in columns after the ones there before', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'credence-revocation-signature-'));
    const file = join(folder, 'signing.json');
    writeFileSync(file, JSON.stringify(policy));
    const svc = await startTestService({ config: { signing: file } });
    try {
      const api = await openApi(svc);
      const send = async (b: unknown) => expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: b })).status).toBe(201);
      for (const [type, id, owner] of FLEET) await send((body[type] as (...a: string[]) => unknown)(id, ...(owner !== undefined ? [owner] : [])));
      await revokeSignedForgedAndCascaded(svc.service.context.credence);
      // One revocation sent with an API token (the policy asks no signature of revokeAssociation): its row names it.
      for (const b of [body.issueCredential('cred-4', 'meter-1'), body.provisionCredential('cred-4'), body.configureAssociation('sa-4', 'cred-4', 'meter-1'), body.establishAssociation('sa-4')]) await send(b);
      await send({ type: 'revokeAssociation', data: { associationId: 'sa-4', reason: 'keyCompromise' } });
      await settled(svc);
      const query = (name: string, params: Record<string, string>, accept = 'application/json') =>
        api.call<any>('GET', '/v1/compliance/{query}', { query: name }, { token: svc.tokens.auditor, accept, query: params });

      const rows = (await query('revocations', {})).body.rows as Row[];
      expect(rows.map((r) => [r['id'], r['signature']['status'], r['signature']['reason']])).toEqual([
        ['cred-1', 'verified', undefined],
        ['cred-2', 'invalid', 'does_not_verify'],
        ['meter-2', 'unsigned', undefined],
        ['cred-3', 'unsigned', undefined],
        ['sa-4', 'unsigned', undefined],
      ]);
      const sa4 = rows.find((r) => r['id'] === 'sa-4')!;
      expect(sa4['token']).toEqual({ id: expect.stringMatching(/^tok_/), issuedBy: expect.any(String) });
      const actions = byPosition(
        (await Promise.all([operator.id, 'system:process-manager', 'test-operator'].map(async (actor) => (await query('actions', { actor })).body.rows as Row[]))).flat(),
      );
      for (const row of rows) {
        expect(row['signature'], row['id']).toEqual(actions.get(row['position'])!['signature']);
        expect(row['token'], row['id']).toEqual(actions.get(row['position'])!['token']);
      }

      const [header, ...records] = parseCsv((await query('revocations', {}, 'text/csv')).text);
      expect(header).toEqual([
        'position', 'streamId', 'kind', 'id', 'reason', 'occurredAt', 'actor', 'recordedAt',
        'signature.status', 'signature.keyFingerprint', 'signature.reason', 'token.id', 'token.issuedBy', 'token.issuedWith',
      ]);
      expect(csvColumnsOf('revocations')).toEqual(header);
      const cell = (record: string[], column: string) => record[header!.indexOf(column)];
      expect(records.map((r) => [cell(r, 'id'), cell(r, 'signature.status'), cell(r, 'signature.reason')])).toEqual(
        rows.map((r) => [r['id'], r['signature']['status'], r['signature']['reason'] ?? '']),
      );
      expect(cell(records.find((r) => cell(r, 'id') === 'sa-4')!, 'token.id')).toBe(sa4['token']['id']);

      // `credence query revocations` prints them on each row's line too.
      const cli = await runCli(['query', 'revocations', '--server', svc.url, '--token', svc.tokens.auditor]);
      expect(cli.code).toBe(0);
      const lineOf = (id: string) => cli.out.split('\n').find((l) => l.includes(`  id=${id}  `))!;
      expect(lineOf('cred-1')).toMatch(/ signature=\{ ?"status": ?"verified"/);
      expect(lineOf('cred-2')).toMatch(/ signature=\{ ?"status": ?"invalid".*"reason": ?"does_not_verify"/);
      expect(lineOf('sa-4')).toContain(`"id": "${sa4['token']['id']}"`);
    } finally {
      await svc.close();
      rmSync(folder, { recursive: true, force: true });
    }
  }, 60_000);
});
