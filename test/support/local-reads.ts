import { expect } from 'vitest';
import { runCli } from './cli.ts';

/**
 * Runs the local read commands (`query revocations`, `history node-meter-1`, `replay`, `projections status`) under
 * `env` and expects each to read a fleet whose node meter-1 was revoked: the store the variables choose, read alike by
 * every command.
 */
export const expectLocalReadsOfRevokedMeter1 = async (env: Readonly<Record<string, string>>): Promise<void> => {
  const query = await runCli(['query', 'revocations', '--json'], env);
  expect(query.code, query.err).toBe(0);
  expect(query.out).toContain('node-meter-1');
  const history = await runCli(['history', 'node-meter-1', '--json'], env);
  expect(history.code, history.err).toBe(0);
  expect(history.out).toContain('NodeRevoked');
  const replay = await runCli(['replay', '--json'], env);
  expect(replay.code, replay.err).toBe(0);
  const projections = await runCli(['projections', 'status', '--json'], env);
  expect(projections.code, projections.err).toBe(0);
};
