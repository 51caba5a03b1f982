import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

describe('credence token', () => {
  let svc: TestService;
  const cli = async (argv: string[], env: Record<string, string> = {}) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env });
    return { code, out: c.out, err: c.err.join('\n') };
  };
  const createSubscription = (id: string, token: string) =>
    cli(['subscription', 'create', id, '--subscriber', 'S', '--not-after', '2030-01-01T00:00:00Z', '--server', svc.url, '--token', token]);

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('create --data issues from the data folder: only the token on stdout, and the running server accepts it', async () => {
    const created = await cli(['token', 'create', '--role', 'operator', '--subject', 'alice', '--ttl', '24h', '--data', svc.dir]);
    expect(created.code, created.err).toBe(0);
    expect(created.out).toHaveLength(1);
    const [token] = created.out;
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(created.err).toMatch(/^issued tok_[\w-]{22}: operator token for alice, expires /);
    expect(created.err).not.toContain(token);

    const used = await createSubscription('from-local-token', token!);
    expect(used.code, used.err).toBe(0);
    const [event] = JSON.parse((await cli(['history', 'subscription-from-local-token', '--json', '--server', svc.url, '--token', svc.tokens.auditor])).out.join('\n')).steps;
    expect(event).toMatchObject({ type: 'SubscriptionCreated', actor: 'alice' });
  });

  it('create / list / revoke through the server with an admin token; a revoked token is refused (exit 1)', async () => {
    const admin = { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.admin };
    const created = await cli(['token', 'create', '--role', 'operator', '--subject', 'bob', '--ttl', '3600', '--json'], admin);
    expect(created.code, created.err).toBe(0);
    const issued = JSON.parse(created.out.join('\n'));
    expect(issued).toMatchObject({ subject: 'bob', role: 'operator', tokenId: expect.stringMatching(/^tok_/) });
    expect((await createSubscription('from-bob', issued.token)).code).toBe(0);

    const listed = await cli(['token', 'list'], admin);
    expect(listed.code).toBe(0);
    expect(listed.out.join('\n')).toMatch(new RegExp(`^${issued.tokenId} +operator +active +\\S+ +bob$`, 'm'));
    expect(listed.out.join('\n')).not.toContain(issued.token);

    const revoked = await cli(['token', 'revoke', issued.tokenId], admin);
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.err).toContain(`revoked ${issued.tokenId}: requests with it, and with every token issued with it down the chain, now get 401`);
    const refused = await createSubscription('after-revoke', issued.token);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/\(401\)/);
    const json = JSON.parse((await cli(['token', 'list', '--json'], admin)).out.join('\n'));
    expect(json.tokens.find((t: { tokenId: string }) => t.tokenId === issued.tokenId)).toMatchObject({ state: 'revoked' });
  });

  it('lists and revokes on the data folder too; bad usage is exit 2, a non-admin token exit 1', async () => {
    const created = await cli(['token', 'create', '--role', 'auditor', '--subject', 'carol', '--ttl', '1h', '--data', svc.dir, '--json']);
    const { tokenId, token } = JSON.parse(created.out.join('\n'));
    expect((await cli(['token', 'list', '--data', svc.dir])).out.join('\n')).toContain(tokenId);
    expect((await cli(['token', 'revoke', tokenId, '--data', svc.dir])).code).toBe(0);
    const read = await cli(['replay', '--server', svc.url, '--token', token]);
    expect(read.code).toBe(1);
    expect(read.err).toMatch(/\(401\)/);

    expect((await cli(['token', 'revoke', 'tok_AAAAAAAAAAAAAAAAAAAAAA', '--data', svc.dir])).code).toBe(1);
    // The refusal is the server's, in shape too: --json prints the problem on stdout locally as through the server
    // (found in review: nothing on stdout locally).
    const local = await cli(['token', 'revoke', 'tok_AAAAAAAAAAAAAAAAAAAAAA', '--data', svc.dir, '--json']);
    const remote = await cli(['token', 'revoke', 'tok_AAAAAAAAAAAAAAAAAAAAAA', '--json'], { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.admin });
    expect([local.code, remote.code]).toEqual([1, 1]);
    for (const r of [local, remote]) {
      expect(JSON.parse(r.out.join('\n'))).toMatchObject({ type: 'https://credence.dev/problems/not_found', title: 'Not found', status: 404, tokenId: 'tok_AAAAAAAAAAAAAAAAAAAAAA' });
    }
    const cases: [string[], RegExp][] = [
      [['token', 'create', '--role', 'root', '--subject', 'x', '--ttl', '1h', '--data', svc.dir], /argument 'root' is invalid/],
      [['token', 'create', '--role', 'auditor', '--subject', 'x', '--ttl', 'forever', '--data', svc.dir], /--ttl: /],
      [['token', 'create', '--role', 'auditor', '--subject', 'system:x', '--ttl', '1h', '--data', svc.dir], /--subject: /],
      [['token', 'create', '--role', 'auditor', '--subject', 'x'], /required option '--ttl <ttl>'/],
      [['token', 'revoke', 'not-a-token-id', '--data', svc.dir], /<tokenId>: a token id/],
      [['token', 'list', '--data', `${svc.dir}/missing`], /--data: no data folder/],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(message);
    }
    const notAdmin = await cli(['token', 'list', '--server', svc.url, '--token', svc.tokens.operator]);
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.err).toMatch(/\(403\)/);
  });
});

describe('credence token on the data folder of a service with its own token settings (--config)', () => {
  const tokens = { issuer: 'city-utilities', audience: 'city-api', maxTtlSeconds: 3600 };
  let svc: TestService;
  let work: string;
  let config: string;
  const cli = async (argv: string[], env: Record<string, string> = {}) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env });
    return { code, out: c.out, err: c.err.join('\n') };
  };
  const readWith = (token: string) => cli(['replay', '--server', svc.url, '--token', token]);

  beforeAll(async () => {
    svc = await startTestService({ config: { tokens } });
    work = mkdtempSync(join(tmpdir(), 'credence-cli-token-config-'));
    config = join(work, 'credence.json');
    writeFileSync(config, JSON.stringify({ data: svc.dir, tokens }));
  });
  afterAll(async () => {
    await svc?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("a token created with the service's configuration file is accepted by that service; one made with the defaults is not", async () => {
    const created = await cli(['token', 'create', '--role', 'auditor', '--subject', 'dana', '--ttl', '30m', '--config', config]);
    expect(created.code, created.err).toBe(0);
    const accepted = await readWith(created.out[0]!);
    expect(accepted.code, accepted.err).toBe(0);

    // --data over the file's data folder, as credence serve reads them; the file's token settings still apply.
    const withData = await cli(['token', 'create', '--role', 'auditor', '--subject', 'erin', '--ttl', '1h', '--data', svc.dir, '--config', config]);
    expect(withData.code, withData.err).toBe(0);
    expect((await readWith(withData.out[0]!)).code).toBe(0);

    const defaults = await cli(['token', 'create', '--role', 'auditor', '--subject', 'frank', '--ttl', '30m', '--data', svc.dir]);
    expect(defaults.code, defaults.err).toBe(0);
    const refused = await readWith(defaults.out[0]!);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/\(401\)/);
  });

  it("the file's longest lifetime bounds --ttl, and a bad file or --config with --server is bad usage (exit 2)", async () => {
    const bad = join(work, 'bad.json');
    writeFileSync(bad, JSON.stringify({ tokens: { audience: '' } }));
    const cases: [string[], RegExp][] = [
      [['token', 'create', '--role', 'auditor', '--subject', 'x', '--ttl', '2h', '--config', config], /^error: --ttl: at most 3600 seconds$/m],
      [['token', 'create', '--role', 'auditor', '--subject', 'x', '--ttl', '1h', '--config', bad, '--data', svc.dir], /^error: file .*bad\.json: tokens\.audience: /m],
      [['token', 'list', '--config', join(work, 'missing.json')], /missing\.json.*cannot be read/],
      [['token', 'create', '--role', 'auditor', '--subject', 'x', '--ttl', '1h', '--config', config, '--server', svc.url, '--token', svc.tokens.admin], /^error: --config: /m],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(message);
    }
    const listed = await cli(['token', 'list', '--config', config]);
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out.join('\n')).toMatch(/ auditor +active +\S+ +dana$/m);
  });
});
