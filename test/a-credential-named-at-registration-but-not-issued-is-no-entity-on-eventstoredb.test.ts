import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { command } from '../domain/commands/index.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { openApi, type Api } from './http-conformance.fixtures.ts';
import { runCli } from './support/cli.ts';
import { at, cmd, operator, profile, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 294: on EventStoreDB `registerNode meter-1 {bootstrapCredentialId: boot-1}` claims the fact it reads
 * (bootstrapNotYetRecorded) at revision 0 of credential-boot-1, before boot-1 is issued. The reads took that claim
 * for the entity: its timeline, state, evidence and dependents answered 200 and `credence state` exit 0 "absent",
 * where the embedded store (no claims) says 404 / exit 1. A stream holding only claims is no entity
 * (docs/eventstoredb.md); once boot-1 is issued it is one.
 */
describe('a credential a registration named but not issued yet, on EventStoreDB', () => {
  let standIn: StandIn;
  let svc: TestService;
  let api: Api;

  beforeAll(async () => {
    standIn = await startStandIn();
    svc = await startTestService({ clock: new FakeClock(T0), config: { store: standIn.connectionString } });
    api = await openApi(svc);
    const { engine } = svc.service.context.credence;
    await engine.execute(cmd.createSubscription());
    await engine.execute(command('registerNode', { nodeId: 'meter-1', profile, bootstrapCredentialId: 'boot-1' }, { actor: operator }));
  }, 120_000);
  afterAll(async () => {
    await svc?.close();
    await standIn?.stop();
  });

  const entity = { kind: 'credential', id: 'boot-1' };
  const reads = (): readonly (readonly [string, () => ReturnType<Api['call']>])[] => {
    const token = svc.tokens.auditor;
    return [
      ['timeline', () => api.call('GET', '/v1/entities/{kind}/{id}/timeline', entity, { token })],
      ['state', () => api.call('GET', '/v1/entities/{kind}/{id}/state', entity, { token, query: { at: at(1) } })],
      ['evidence', () => api.call('GET', '/v1/transparency/evidence/{kind}/{id}', entity, { token })],
      ['dependents', () => api.call('GET', '/v1/entities/{kind}/{id}/dependents', entity, { token })],
    ];
  };
  /** Each read's status; a 404 must be the entity's own (not found), as the embedded store answers it. */
  const statuses = async (): Promise<Record<string, number>> => {
    const seen: Record<string, number> = {};
    for (const [name, call] of reads()) {
      const reply = await call();
      seen[name] = reply.status;
      if (reply.status === 404) expect(reply.body, name).toMatchObject({ title: 'Not found', streamId: 'credential-boot-1' });
    }
    return seen;
  };
  const stateCli = () => runCli(['state', 'credential-boot-1', '--at', at(1), '--store', standIn.connectionString]);

  it('is 404 to every read and exit 1 to credence state while its stream holds only the claim, 200 and exit 0 once issued', async () => {
    // The premise: the registration's claim is all the stream holds.
    expect((standIn.log.stream('credential-boot-1') ?? []).map((r) => r.type)).toEqual([FACT_CLAIM_TYPE]);
    const answers = await statuses();
    const before = await stateCli();
    expect({ ...answers, cli: before.code }).toEqual({ timeline: 404, state: 404, evidence: 404, dependents: 404, cli: 1 });
    expect(before.out).not.toContain('absent');
    expect(before.err).toContain('credential-boot-1');
    // `credence export` refuses it as a stream with no events, before its folder gets a log key or a log.
    const folder = mkdtempSync(join(tmpdir(), 'credence-unissued-export-'));
    try {
      const exported = await runCli(['export', 'credential-boot-1', '--data', folder, '--store', standIn.connectionString, '--out', join(folder, 'bundle.json')]);
      expect(exported.code, exported.out + exported.err).toBe(1);
      expect(exported.err).toContain('credential-boot-1 has no events');
      expect(readdirSync(folder)).toEqual([]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }

    await svc.service.context.credence.engine.execute(cmd.issueCredential('boot-1', 'meter-1', at(90), { purpose: 'bootstrap' }));
    const after = await stateCli();
    expect({ ...(await statuses()), cli: after.code }).toEqual({ timeline: 200, state: 200, evidence: 200, dependents: 200, cli: 0 });
    expect(after.out).toContain('credential-boot-1 at');
  }, 120_000);
});
