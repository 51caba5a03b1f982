/**
 * Review 136: a local `token list` or `token revoke` where there is no data folder (outside the repository, where
 * ./data is not) was `error: --data: no data folder at ./data` with no remedy, while `history` says what to pass; and
 * `token create --server` hinted `revoke with credence token revoke tok_…` without the server, which then acts on the
 * local folder. The refusal names what to pass (a server only for the commands that go to one), the hint the server.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-token-where-');

describe('credence token where there is no data folder', () => {
  it.each([
    [['token', 'list'], 'pass --data DIR, or --server URL with an admin token'],
    [['token', 'revoke', 'tok_AAAAAAAAAAAAAAAAAAAAAA'], 'pass --data DIR, or --server URL with an admin token'],
    [['token', 'rotate-key'], 'pass --data DIR'],
  ])('%j is refused (exit 2) naming what to pass, and makes nothing', async (argv, remedy) => {
    const missing = join(scratch(), 'data');
    const r = await runCli([...argv, '--data', missing]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain(`error: --data: no data folder at ${missing} (${remedy})`);
    expect(existsSync(missing)).toBe(false);
  });
});

describe('credence token create --server', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ config: { logLevel: 'silent' } });
  });
  afterAll(async () => svc.close());

  it('hints a revoke that goes to the server that issued the token', async () => {
    const r = await runCli(['token', 'create', '--role', 'auditor', '--subject', 'carol', '--ttl', '1h', '--server', svc.url, '--token', svc.tokens.admin]);
    expect(r.code, r.err).toBe(0);
    const tokenId = /^issued (tok_[\w-]{22}):/m.exec(r.err)?.[1];
    expect(tokenId, r.err).toBeDefined();
    expect(r.err).toContain(`(shown once; revoke with credence token revoke ${tokenId} --server ${svc.url})`);
  });
});

/**
 * Review 173: a local `token create --data DIR` hinted `revoke with credence token revoke tok_…` without the folder,
 * which pasted elsewhere looked for ./data (or, with CREDENCE_URL exported, went to a server). The hint names the
 * folder, quoted for the shell, and the command as hinted revokes the token.
 */
describe('credence token create --data', () => {
  it('hints a revoke of the folder that issued the token, and that revoke works as pasted', async () => {
    const dir = join(scratch(), 'a data folder');
    const r = await runCli(['token', 'create', '--role', 'auditor', '--subject', 'carol', '--ttl', '1h', '--data', dir]);
    expect(r.code, r.err).toBe(0);
    const tokenId = /^issued (tok_[\w-]{22}):/m.exec(r.err)?.[1];
    expect(tokenId, r.err).toBeDefined();
    expect(r.err).toContain(`(shown once; revoke with credence token revoke ${tokenId} --data '${dir}')`);
    const revoked = await runCli(['token', 'revoke', tokenId!, '--data', dir]);
    expect(revoked.code, revoked.err).toBe(0);
    const listed = await runCli(['token', 'list', '--data', dir, '--json']);
    expect(listed.out).toContain('"revoked"');
  });
});
