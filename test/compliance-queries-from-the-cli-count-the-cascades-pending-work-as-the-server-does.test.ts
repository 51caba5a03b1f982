import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { main } from '../bin/cli.ts';
import { command } from '../domain/commands/index.ts';
import { settled } from './http-sse.fixtures.ts';
import { capture } from './support/cli.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Review 305 (medium): with the cascade held back after a node's revocation, the server's dangling-associations said
 * its 5 rows were behind (review 272) while `credence query --data` said 0, as it counted the audit and compliance
 * read models only; and `revocations`, whose rows the cascade's revocations are, counted the cascade nowhere. Both
 * front ends now count the same read models (readModelsCountedFor); a CLI holding the folder (service stopped) says
 * the cascade's work is pending.
 */

const ASSOCIATIONS = 5;

const cli = async (argv: string[]) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env: {} });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('compliance queries while the cascade is held back after a node is revoked', () => {
  const folders = tempDirs('credence-cli-query-cascade-');
  const dir = folders.make();
  let svc: TestService;
  const run = (input: unknown) => svc.service.context.credence.engine.execute(input);
  const http = async (name: string, params: Record<string, string> = {}) => {
    const r = await fetch(`${svc.url}/v1/compliance/${name}?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    return (await r.json()) as { eventsBehind: number; rows: unknown[] };
  };
  const local = async (name: string, ...params: string[]) => {
    const answer = await cli(['query', name, ...params, '--json', '--data', dir]);
    expect(answer.code, answer.err).toBe(0);
    return { ...(JSON.parse(answer.out) as { eventsBehind: number; rows: unknown[] }), err: answer.err };
  };

  beforeAll(async () => {
    svc = await startTestService({ dir, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode('meter-m'), cmd.enrolNode('meter-m'), cmd.issueCredential('meter-m-cred', 'meter-m'), cmd.provisionCredential('meter-m-cred')]) await run(c);
    for (let i = 0; i < ASSOCIATIONS; i++) {
      await run(cmd.configureAssociation(`meter-m-sa-${i}`, 'meter-m-cred', 'meter-m'));
      await run(cmd.establishAssociation(`meter-m-sa-${i}`));
    }
    await settled(svc);
    // The cascade fails (and backs off) from here on: its checkpoint stays where it is; every other component goes on.
    const { runner } = svc.service.context.credence;
    const { handle, catchUp } = runner;
    runner.handle = async (name, ...rest) => {
      if (name === 'cascade') throw new Error('held back by the test');
      return handle.call(runner, name, ...rest);
    };
    runner.catchUp = async (name) => {
      if (name === 'cascade') throw new Error('held back by the test');
      return catchUp.call(runner, name);
    };
    await run(command('revokeNode', { nodeId: 'meter-m', reason: 'keyCompromise' }, { actor: operator }));
    const head = (await svc.service.context.credence.store.headPosition())!;
    expect(await svc.service.context.live.caughtUp(head, 10_000, ['audit', 'compliance'])).toBe(true);
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    folders.cleanup();
  });

  it('beside the service: the CLI counts the cascade behind as the server does, for dangling-associations, expiring and revocations', async () => {
    const served = await http('dangling-associations');
    expect(served.rows.length).toBeGreaterThanOrEqual(ASSOCIATIONS);
    expect(served.eventsBehind).toBeGreaterThan(0);
    const dangling = await local('dangling-associations');
    expect(dangling.rows.length).toBeGreaterThanOrEqual(ASSOCIATIONS);
    expect(dangling.eventsBehind).toBeGreaterThan(0);
    expect(dangling.err).toMatch(/the revocation cascade has \d+ event\(s\) of the store still to handle/);
    expect((await local('expiring', '--days', '365')).eventsBehind).toBeGreaterThan(0);
    // The cascade's revocations of the node's credential and associations are rows still to come.
    expect((await http('revocations')).eventsBehind).toBeGreaterThan(0);
    expect((await local('revocations')).eventsBehind).toBeGreaterThan(0);
    // A query with no row of the cascade's is not held back by it.
    expect((await local('actions', '--actor', operator.id)).eventsBehind).toBe(0);
  }, 30_000);

  it('the service stopped: the CLI holding the folder says the cascade has work pending, and counts it', async () => {
    await svc.close();
    const dangling = await local('dangling-associations');
    expect(dangling.rows.length).toBeGreaterThanOrEqual(ASSOCIATIONS);
    expect(dangling.eventsBehind).toBeGreaterThan(0);
    expect(dangling.err).toMatch(/the revocation cascade has \d+ event\(s\) of the store still to handle \(the service runs it, at its start when stopped\)/);
    expect(dangling.err).not.toMatch(/the read models were/);
    expect((await local('revocations')).eventsBehind).toBeGreaterThan(0);
  }, 30_000);
});
