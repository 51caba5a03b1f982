// Review 139: the cascade's dead letters were only counted (`credence_cascade_dead_letters`) and logged once as each
// was recorded: no route and no command listed them, so an operator told to carry one out by hand could not find it.
// GET /v1/projections lists them now (the first 100, and their count), and `credence projections` prints them, from a
// server or from a data folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { ops, settled } from './http-sse.fixtures.ts';
import { runCli } from './support/cli.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { useTestService } from './support/service.ts';
import { tamper } from './support/tampered-log.ts';

const svc = useTestService();

describe('a cascade dead letter', () => {
  it('is listed by GET /v1/projections, with its stream, reaction, event, position, time and reason, and printed by credence projections --server', async () => {
    const { credence } = svc.service.context;
    for (const step of [ops.createSubscription('sub-dl'), ops.registerNode('dl'), ops.enrolNode('dl', 'sub-dl'), ops.issueCredential('dl-c1', 'dl'), ops.provisionCredential('dl-c1')]) {
      await credence.engine.execute(step);
    }
    await settled(svc);
    const read = async () => (await fetch(`${svc.url}/v1/projections`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } })).json();
    expect(await read()).toMatchObject({ cascadeDeadLetters: [], cascadeDeadLettersTotal: 0 });

    // dl-c1's stream is broken (provisioned twice): revoking its node leaves the cascade unable to revoke it.
    await tamper(credence, 'credential-dl-c1', 'CredentialProvisioned', { credentialId: 'dl-c1', method: 'pre-provisioning' });
    const revoked = await credence.engine.execute(ops.revokeNode('dl'));
    await settled(svc);

    const answer = (await read()) as { cascadeDeadLetters: Record<string, string>[]; cascadeDeadLettersTotal: number };
    expect(answer.cascadeDeadLettersTotal).toBe(1);
    expect(answer.cascadeDeadLetters).toEqual([{
      stream: 'credential-dl-c1', command: 'revokeCredential', target: 'dl-c1', eventType: 'NodeRevoked',
      position: String(revoked.events[0]!.position), occurredAt: expect.any(String), reason: expect.stringContaining('credential-dl-c1 has a broken history'),
    }]);
    expect(Date.parse(answer.cascadeDeadLetters[0]!.occurredAt!)).not.toBeNaN();

    const text = await runCli(['projections', '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toContain('cascade dead letters: 1 (not retried; one goes when its stream ends, the reaction carried out by hand)');
    expect(text.out).toMatch(new RegExp(`^  ${revoked.events[0]!.position} \\S+ NodeRevoked: revokeCredential credential-dl-c1: .*broken history`, 'm'));
    const json = await runCli(['projections', '--json', '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(JSON.parse(json.out)).toMatchObject({ cascadeDeadLettersTotal: 1, cascadeDeadLetters: [{ stream: 'credential-dl-c1' }] });
  }, 30_000);

  it('is printed by credence projections on the data folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-dead-letters-'));
    try {
      const c = openCredence({ location: { dir }, clock: new FakeClock(T0) });
      for (const step of [cmd.createSubscription(), cmd.registerNode('gw'), cmd.enrolNode('gw'), cmd.issueCredential('gw-c1', 'gw'), cmd.provisionCredential('gw-c1')]) {
        await c.engine.execute(step);
      }
      await c.settle();
      await tamper(c, 'credential-gw-c1', 'CredentialProvisioned', { credentialId: 'gw-c1', method: 'pre-provisioning' });
      const revoked = await c.engine.execute(command('revokeNode', { nodeId: 'gw', reason: 'keyCompromise' }, { actor: operator }));
      await c.settle();
      await c.close();

      const { code, out, err } = await runCli(['projections', '--data', dir]);
      expect(code, err).toBe(0);
      expect(out).toContain('cascade dead letters: 1');
      expect(out).toMatch(new RegExp(`^  ${revoked.events[0]!.position} ${T0} NodeRevoked: revokeCredential credential-gw-c1: .*broken history`, 'm'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
