/**
 * Review 168: after the upgrade to machines v2 a finding by a rule newer than its stored event (review 167) comes back
 * at every run, and the replay answer counted it only with the others: the console showed it as a broken history an
 * operator could do nothing about. GET /v1/replay counts those findings apart (`findingsByNewerRules`), decided by the
 * server from RULES_SINCE, and `credence replay --json` says the same locally and from a server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { forge, provisionedAfterRevocationByV1 } from './replay.fixtures.ts';
import { runCli } from './support/cli.ts';
import { cmd, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

const dir = mkdtempSync(join(tmpdir(), 'credence-newer-rules-'));
let svc: TestService;

beforeAll(async () => {
  const store = openSqliteStoreInDir(dir);
  await provisionedAfterRevocationByV1(store);
  // And a broken history no version accepted: cred-2 provisioned after its own revocation.
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.registerNode('meter-2'), cmd.enrolNode('meter-2'), cmd.issueCredential('cred-2', 'meter-2')]) await engine.execute(c);
  await engine.execute(cmd.revokeCredential('cred-2'));
  await forge(store, 'credential-cred-2', 'CredentialProvisioned', { credentialId: 'cred-2', method: 'pre-provisioning' }, T0);
  await store.close();
  svc = await startTestService({ dir });
}, 60_000);

afterAll(async () => {
  await svc?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the replay verdict counts the findings by rules newer than the stored events', () => {
  it('in GET /v1/replay, apart from the broken histories', async () => {
    const response = await fetch(`${svc.url}/v1/replay?limit=10&full=true`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(response.status).toBe(200);
    const verdict = (await response.json()) as { findingsTotal: number; findingsByNewerRules: number; findings: { streamId: string; reason: string }[] };
    expect(verdict.findingsTotal).toBe(2);
    expect(verdict.findingsByNewerRules).toBe(1);
    expect(verdict.findings.find((f) => f.reason.includes('rule since'))?.streamId).toBe('credential-cred-1');
  });

  it('in `credence replay --json`, locally as from the server', async () => {
    const fromServer = await runCli(['replay', '--json', '--full', '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(fromServer.code, fromServer.err).toBe(1);
    const local = await runCli(['replay', '--json', '--full', '--data', dir]);
    expect(local.code, local.err).toBe(1);
    for (const run of [fromServer, local]) expect(JSON.parse(run.out)).toMatchObject({ findingsTotal: 2, findingsByNewerRules: 1 });
  });
});
