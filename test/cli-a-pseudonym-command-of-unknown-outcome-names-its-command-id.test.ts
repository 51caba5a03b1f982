import { describe, expect, it } from 'vitest';
import { problemServer } from './support/canned-server.ts';
import { closedPort } from './support/closed-port.ts';
import { runCli } from './support/cli.ts';

/*
 * `pseudonym rotate` and `pseudonym resolve` make their command id themselves unless given one, as lifecycle commands
 * do, but said nothing of it when the outcome was unknown (review 150): sent again, a rotation could skip an epoch and
 * a resolution was recorded twice. They name it as `credence <group> <verb>` does (review 57).
 */
const UUID = /add --command-id ([0-9a-f-]{36})/;
const PSEUDONYM = `p-${'a'.repeat(26)}`;

describe.each([
  ['rotate', ['pseudonym', 'rotate', 'meter-1']],
  ['resolve', ['pseudonym', 'resolve', PSEUDONYM, '--reason', 'case 2026-117']],
])('pseudonym %s whose outcome is unknown', (_verb, argv) => {
  const server = problemServer(503);
  const answer = (status: number) => {
    server.status = status;
    server.body = JSON.stringify({ type: 'https://credence.dev/problems/store_unavailable', title: 'Store unavailable', status, detail: 'the event store could not be reached or did not answer in time' });
  };
  const send = (url: string, ...extra: string[]) => runCli([...argv, '--server', url, '--token', 'a.b.c', ...extra]);

  it('names the id it was sent under when the server is unreachable (exit 3)', async () => {
    const result = await send(`http://127.0.0.1:${await closedPort()}`);
    expect(result.code).toBe(3);
    expect(result.err).toMatch(UUID);
  });

  it('names it when the server answers 503, and names the one given with --command-id', async () => {
    answer(503);
    expect((await send(server.url)).err).toMatch(UUID);
    const given = '6f1d2c3b-4a59-4e8f-9b7a-0c1d2e3f4a5b';
    const result = await send(server.url, '--command-id', given);
    expect(result.code).toBe(1);
    expect(result.err.match(UUID)?.[1]).toBe(given);
  });

  it('says nothing of it when the server refused (4xx: nothing was recorded)', async () => {
    answer(409);
    const result = await send(server.url);
    expect(result.code).toBe(1);
    expect(result.err).not.toMatch(/--command-id/);
  });
});
