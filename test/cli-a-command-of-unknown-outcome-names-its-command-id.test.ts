import { describe, expect, it } from 'vitest';
import { problemServer } from './support/canned-server.ts';
import { closedPort } from './support/closed-port.ts';
import { runCli } from './support/cli.ts';

/*
 * `credence <group> <verb>` makes the command id itself unless given one. When the server cannot be reached, or answers
 * with its own failure (503: an event store that did not answer), the command may have been recorded; sending it again
 * is safe only under the same id, which the CLI did not print (review 57).
 */
const UUID = /add --command-id ([0-9a-f-]{36})/;

describe('a command whose outcome is unknown', () => {
  const refusing = problemServer(503);
  const answer = (status: number) => {
    refusing.status = status;
    refusing.body = JSON.stringify({ type: 'https://credence.dev/problems/store_unavailable', title: 'Store unavailable', status, detail: 'the event store could not be reached or did not answer in time' });
  };

  const revoke = (server: string, ...extra: string[]) =>
    runCli(['node', 'revoke', 'meter-1', '--reason', 'keyCompromise', '--server', server, '--token', 'a.b.c', ...extra]);

  it('names the id it was sent under, to send it again with --command-id, when the server is unreachable (exit 3)', async () => {
    const result = await revoke(`http://127.0.0.1:${await closedPort()}`);
    expect(result.code).toBe(3);
    expect(result.err).toMatch(UUID);
  });

  it('names it when the server answers 503, and names the one given with --command-id', async () => {
    answer(503);
    expect((await revoke(refusing.url)).err).toMatch(UUID);
    const given = '6f1d2c3b-4a59-4e8f-9b7a-0c1d2e3f4a5b';
    const result = await revoke(refusing.url, '--command-id', given);
    expect(result.code).toBe(1);
    expect(result.err.match(UUID)?.[1]).toBe(given);
  });

  it('says nothing of it when the server refused the command (4xx: nothing was recorded)', async () => {
    answer(409);
    const result = await revoke(refusing.url);
    expect(result.code).toBe(1);
    expect(result.err).not.toMatch(/--command-id/);
  });
});
