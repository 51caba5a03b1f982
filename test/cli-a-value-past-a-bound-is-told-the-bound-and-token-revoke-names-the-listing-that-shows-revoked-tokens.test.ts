/**
 * Review 295 item 4: refusals that gave the wrong reason. `--ttl 99999999999h` was told the forms a lifetime takes,
 * though it is in one (the count is past 9 digits); `query expiring --days 99999999999999999999` was told "in decimal
 * digits", which it is. Each now names the bound. And `token revoke` sent the operator to `token list --all` to see the
 * revoked tokens, which plain `token list` shows (--all adds the expired ones).
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-bounds-');

describe('a value past a bound', () => {
  it('--ttl 99999999999h: names the longest lifetime, not the forms', async () => {
    const { code, err } = await runCli(['token', 'create', '--role', 'operator', '--subject', 'a', '--ttl', '99999999999h', '--data', scratch()]);
    expect(err).toContain('error: --ttl: the count has more than 9 digits: at most 9, with s, m, h or d or none (e.g. 24h)');
    expect(err).not.toContain('a whole number of seconds, or a count');
    expect(code).toBe(2);
  });

  it('--ttl 1.5h: still told the forms', async () => {
    const { err } = await runCli(['token', 'create', '--role', 'operator', '--subject', 'a', '--ttl', '1.5h', '--data', scratch()]);
    expect(err).toContain('error: --ttl: a whole number of seconds, or a count with s, m, h or d (e.g. 24h)');
  });

  it.each(['99999999999999999999', '123456', '1.1234567891'])('query expiring --days %s: names the bound, not the form', async (days) => {
    const { code, err } = await runCli(['query', 'expiring', '--days', days, '--data', scratch()]);
    expect(err).toMatch(/^error: --days: at most 36500 days/m);
    expect(err).not.toContain('in decimal digits');
    expect(code).toBe(2);
  });
});

describe('token revoke', () => {
  it('says plain token list shows the revoked tokens, not --all', async () => {
    const dir = scratch();
    const created = await runCli(['token', 'create', '--role', 'operator', '--subject', 'a', '--ttl', '1h', '--data', dir, '--json']);
    expect(created.code, created.err).toBe(0);
    const { tokenId } = JSON.parse(created.out) as { tokenId: string };
    const revoked = await runCli(['token', 'revoke', tokenId, '--data', dir]);
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.err).not.toContain('token list --all names them');
    expect(revoked.err).toContain('token list shows them as revoked');
    const listed = await runCli(['token', 'list', '--data', dir]);
    expect(listed.out).toMatch(new RegExp(`${tokenId}.*revoked`));
  });
});
