import { describe, expect, it } from 'vitest';
import { cannedServer } from './support/canned-server.ts';
import { runCli } from './support/cli.ts';

/*
 * Review 245: the answer to a command id sent again carries the state right after that command, however far the entity
 * has moved since (docs/service.md, Commands); the CLI printed it as the state now: after revoking meter-1-b, its issue
 * sent again under the first id said `credential-meter-1-b is initialized`. Its line says when that state held; --json
 * prints the server's answer as it is.
 */
const COMMAND_ID = '6f1d2c3b-4a59-4e8f-9b7a-0c1d2e3f4a5b';
const REPEATED = { commandId: COMMAND_ID, streamId: 'credential-meter-1-b', state: 'initialized', deduplicated: true, events: [] };

describe('a repeated command id answered by its first outcome', () => {
  const server = cannedServer();
  const revoke = (...extra: string[]) =>
    runCli(['credential', 'revoke', 'meter-1-b', '--reason', 'superseded', '--server', server.url(), '--token', 'a.b.c', '--command-id', COMMAND_ID, ...extra]);

  it('says the state was the one after that command, not the state now', async () => {
    server.answers.set('/v1/commands', JSON.stringify(REPEATED));
    const result = await revoke();
    expect([result.code, result.err]).toEqual([0, '']);
    expect(result.out).toBe(`revokeCredential: credential-meter-1-b was initialized after that command (command ${COMMAND_ID} was already done; nothing appended)`);
  });

  it('prints the answer unchanged with --json', async () => {
    server.answers.set('/v1/commands', JSON.stringify(REPEATED));
    const result = await revoke('--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toEqual(REPEATED);
  });
});
