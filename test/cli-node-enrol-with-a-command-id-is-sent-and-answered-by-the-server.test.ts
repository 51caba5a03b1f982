import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 331: `node enrol` of a node enrolled so already was skipped (sent: false) whatever --command-id said, so a
 * retry under its own id was not answered with its outcome, and an id already used for another command still exited
 * 0. With --command-id the command is sent, and the server's idempotency answers it.
 */
describe('credence node enrol --command-id of a node enrolled so already', () => {
  let svc: TestService;
  let env: Record<string, string>;
  const enrolId = randomUUID();
  const registerId = randomUUID();
  const ENROL = ['node', 'enrol', 'meter-1', '--subscription', 'city', '--cse-id', '/meter-1-cse'];
  beforeAll(async () => {
    svc = await startTestService();
    env = { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.operator };
    for (const argv of [
      ['subscription', 'create', 'city', '--subscriber', 'City Utilities', '--not-after', '2030-01-01T00:00:00Z'],
      ['node', 'register', 'meter-1', '--class', 'smart-meter', '--manufacturer', 'Acme', '--model', 'SM-10', '--command-id', registerId],
      [...ENROL, '--command-id', enrolId],
    ]) {
      const r = await runCli(argv, env);
      expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(0);
    }
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('its own id again is sent and answered as done before: deduplicated, the command id, exit 0', async () => {
    const again = await runCli([...ENROL, '--command-id', enrolId, '--json'], env);
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ commandId: enrolId, deduplicated: true, streamId: 'node-meter-1' });
  });

  it('an id already used for another command is refused by the server: exit 1, never `nothing sent`', async () => {
    const other = await runCli([...ENROL, '--command-id', registerId, '--json'], env);
    expect(other.code, other.out).toBe(1);
    expect(other.out).not.toContain('"sent": false');
  });

  it('without --command-id it is still read and skipped', async () => {
    const skipped = await runCli([...ENROL, '--json'], env);
    expect(skipped.code, skipped.err).toBe(0);
    expect(JSON.parse(skipped.out)).toMatchObject({ sent: false, streamId: 'node-meter-1' });
  });
});
