import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review 54: `credence command --help` listed rotatePseudonym and resolvePseudonym among the commands to send,
 * and POST /v1/commands always refuses them (SER-025: they run only through their own routes); the refusal named the
 * HTTP route, not `credence pseudonym rotate|resolve`. Now the help lists them apart with the command to use, and the
 * server's refusal names both the route and the CLI command.
 */
describe('credence command and the commands with their own route', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });
  const cli = async (argv: string[]) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env: { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.operator } });
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };

  it('--help lists them apart from the commands to send, naming credence pseudonym rotate and resolve', async () => {
    const help = await cli(['command', '--help']);
    expect(help.code).toBe(0);
    const [sendable, apart] = help.out.split(/^Not sent with credence command.*$/m);
    expect(sendable).toMatch(/^ {2}revokeCredential +CredentialRevoked$/m);
    expect(sendable).not.toMatch(/rotatePseudonym|resolvePseudonym/);
    expect(apart).toMatch(/^ {2}rotatePseudonym +credence pseudonym rotate <nodeId>$/m);
    expect(apart).toMatch(/^ {2}resolvePseudonym +credence pseudonym resolve <pseudonym> --reason TEXT$/m);
  });

  it('is refused before anything is sent (exit 2, review 218), naming the CLI command; nothing is written', async () => {
    const head = await svc.service.context.credence.store.headPosition();
    const rotation = await cli(['command', 'rotatePseudonym', '--data', JSON.stringify({ nodeId: 'meter-1', pseudonym: `p-${'a'.repeat(26)}`, epoch: 1, trigger: 'demand' })]);
    expect(rotation.code).toBe(2);
    expect(rotation.err).toBe(
      'error: <type>: rotatePseudonym is not sent with credence command (SER-025: it runs only through its own route): use credence pseudonym rotate <nodeId> (rule own_route)',
    );
    const resolution = await cli(['command', 'resolvePseudonym', '--data', JSON.stringify({ pseudonym: `p-${'a'.repeat(26)}`, reason: 'curious' })]);
    expect(resolution.code).toBe(2);
    expect(resolution.err).toContain('use credence pseudonym resolve <pseudonym> --reason TEXT');
    expect(await svc.service.context.credence.store.headPosition()).toBe(head);
  });

  it("the server's own refusal of one sent to POST /v1/commands names the route and the CLI command", async () => {
    const refused = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'rotatePseudonym', data: { nodeId: 'meter-1', pseudonym: `p-${'a'.repeat(26)}`, epoch: 1, trigger: 'demand' }, commandId: crypto.randomUUID() }),
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toContain('rotatePseudonym runs only through POST /v1/pseudonyms/rotations (from the CLI: credence pseudonym rotate <nodeId>)');
  });
});
