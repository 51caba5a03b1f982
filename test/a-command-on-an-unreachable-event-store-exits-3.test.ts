/**
 * Review 46: `credence replay --store esdb://…` with the event store's server down exited 1 (README 'CLI exit codes':
 * 1 is refused or failed) and its message ended in gRPC's empty `Resolution note: `. An event store that cannot be
 * reached is a server unreachable: exit 3, the client's message without the empty note, and what to check.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { closedPort } from './support/closed-port.ts';
import { startStandIn } from './esdb-standin/index.ts';

describe('a command on an EventStoreDB that cannot be reached', () => {
  it('exits 3 (server unreachable), saying so without an empty resolution note', async () => {
    const { code, err } = await runCli(['replay', '--store', `esdb://127.0.0.1:${await closedPort()}?tls=false`]);
    expect(err).toMatch(/^error: EventStoreDB .* failed: 14 UNAVAILABLE: .*ECONNREFUSED/m);
    expect(err).not.toMatch(/Resolution note/);
    expect(err).toContain('is the event store of --store or CREDENCE_STORE running');
    expect(code).toBe(3);
  }, 60_000);
});

describe('a command on an EventStoreDB follower that answers "not leader"', () => {
  it('exits 3 as for a server it cannot reach (sent again it goes to the leader), naming the leader', async () => {
    const standIn = await startStandIn({ notLeader: { host: 'esdb-2.internal', port: 2113 } });
    try {
      const { code, err } = await runCli(['replay', '--store', standIn.connectionString]);
      expect(err).toMatch(/^error: EventStoreDB .* failed: .*esdb-2\.internal:2113/m);
      expect(err).toContain('send the command again');
      expect(code).toBe(3);
    } finally {
      await standIn.stop();
    }
  }, 60_000);
});
