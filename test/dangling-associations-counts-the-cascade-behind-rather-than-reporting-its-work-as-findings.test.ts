import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { command } from '../domain/commands/index.ts';
import { settled } from './http-sse.fixtures.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 272: `dangling-associations` waited for the audit and compliance read models alone. Right after a node with 30
 * associations was revoked it listed 32 rows (the node's credential and associations the cascade was still revoking)
 * with `eventsBehind: 0`, which the docs read as whole findings; once the cascade settled, none. `expiring` listed the
 * credential the cascade was about to revoke alike. Both now count the cascade's backlog (the events it had not
 * handled, and its revocations not yet in the compliance read model) in `eventsBehind`: a row while the cascade is
 * behind says so.
 */

const ASSOCIATIONS = 30;

interface Answer {
  readonly status: number;
  readonly eventsBehind: number;
  readonly header: string | null;
  readonly rows: readonly unknown[];
}

describe('dangling-associations and expiring while the cascade is behind', () => {
  let svc: TestService;
  const run = (input: unknown) => svc.service.context.credence.engine.execute(input);
  const query = async (name: string, params: Record<string, string> = {}): Promise<Answer> => {
    const r = await fetch(`${svc.url}/v1/compliance/${name}?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    const body = (await r.json()) as { eventsBehind: number; rows: unknown[] };
    return { status: r.status, eventsBehind: body.eventsBehind, header: r.headers.get('credence-events-behind'), rows: body.rows };
  };
  /** A node with one provisioned credential and `ASSOCIATIONS` established associations on it. */
  const nodeWithAssociations = async (node: string): Promise<void> => {
    for (const c of [cmd.registerNode(node), cmd.enrolNode(node), cmd.issueCredential(`${node}-cred`, node), cmd.provisionCredential(`${node}-cred`)]) await run(c);
    for (let i = 0; i < ASSOCIATIONS; i++) {
      await run(cmd.configureAssociation(`${node}-sa-${i}`, `${node}-cred`, node));
      await run(cmd.establishAssociation(`${node}-sa-${i}`));
    }
  };
  const revoke = (node: string) => run(command('revokeNode', { nodeId: node, reason: 'keyCompromise' }, { actor: operator }));
  /** A row is a finding only in an answer that says it is whole; one said behind may be the cascade's work to come. */
  const expectNoFindingSaidWhole = (answer: Answer, node?: string): void => {
    expect(answer.status).toBe(200);
    expect(answer.header).toBe(String(answer.eventsBehind));
    // `expiring`: the rows of the revoked node's credential (another node's, live, is listed rightly).
    const rows = node === undefined ? answer.rows : answer.rows.filter((r) => (r as { credentialId: string }).credentialId === `${node}-cred`);
    expect(rows.length === 0 || answer.eventsBehind > 0, `${rows.length} rows with eventsBehind ${answer.eventsBehind}`).toBe(true);
  };

  beforeAll(async () => {
    svc = await startTestService({ clock: new FakeClock(T0) });
    await run(cmd.createSubscription());
    await nodeWithAssociations('meter-held');
    await nodeWithAssociations('meter-raced');
    await settled(svc);
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('a node revoked and read right away: no row is answered as a whole finding', async () => {
    await revoke('meter-raced');
    expectNoFindingSaidWhole(await query('dangling-associations'));
    expectNoFindingSaidWhole(await query('expiring', { days: '365' }), 'meter-raced');
    await settled(svc);
    expect(await query('dangling-associations')).toMatchObject({ status: 200, eventsBehind: 0, rows: [] });
  });

  it('the cascade held back: its work is counted behind; settled, no row and 0 behind', async () => {
    const { runner } = svc.service.context.credence;
    const { handle, catchUp } = runner;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The cascade waits at the gate; every other component goes on.
    runner.handle = async (name, ...rest) => {
      if (name === 'cascade') await gate;
      return handle.call(runner, name, ...rest);
    };
    runner.catchUp = async (name) => {
      if (name === 'cascade') await gate;
      return catchUp.call(runner, name);
    };
    try {
      await revoke('meter-held');
      // The audit and compliance read models reach the revocation; the cascade does not.
      const head = (await svc.service.context.credence.store.headPosition())!;
      expect(await svc.service.context.live.caughtUp(head, 10_000, ['audit', 'compliance'])).toBe(true);

      const dangling = await query('dangling-associations');
      expect(dangling.rows.length).toBeGreaterThanOrEqual(ASSOCIATIONS);
      expect(dangling.eventsBehind).toBeGreaterThan(0);
      expectNoFindingSaidWhole(dangling);
      const expiring = await query('expiring', { days: '365' });
      expect(expiring.rows).toMatchObject([{ credentialId: 'meter-held-cred' }]);
      expect(expiring.eventsBehind).toBeGreaterThan(0);
      expectNoFindingSaidWhole(expiring, 'meter-held');
      // What waits for the audit and compliance read models alone is not held back by the cascade; `revocations`,
      // whose rows the cascade's revocations are, counts it too (review 305).
      expect(await query('actions', { actor: operator.id })).toMatchObject({ status: 200, eventsBehind: 0 });
      expect((await query('revocations')).eventsBehind).toBeGreaterThan(0);
    } finally {
      runner.handle = handle;
      runner.catchUp = catchUp;
      release();
    }
    // Released: every answer until the cascade settled says it is behind, or lists nothing.
    for (;;) {
      const answer = await query('dangling-associations');
      expectNoFindingSaidWhole(answer);
      if (answer.eventsBehind === 0) break;
    }
    await settled(svc);
    expect(await query('dangling-associations')).toMatchObject({ status: 200, eventsBehind: 0, rows: [] });
    expect(await query('expiring', { days: '365' })).toMatchObject({ status: 200, eventsBehind: 0, rows: [] });
  }, 30_000);
});
