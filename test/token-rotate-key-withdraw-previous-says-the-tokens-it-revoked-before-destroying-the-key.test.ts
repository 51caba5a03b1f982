import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 174: `credence token rotate-key --withdraw-previous` printed "key … destroyed: no live token was signed with
 * it" beside "2 token(s) signed with the previous key(s) revoked": the key had signed both. Withdrawn, a key is said
 * destroyed after the tokens it signed were revoked; without --withdraw-previous, a key destroyed at once still had
 * no live token.
 */
const folder = temporaryFolders('credence-token-withdraw-');

const cli = async (argv: string[]) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env: {} });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('credence token rotate-key --withdraw-previous', () => {
  it('says the key that signed live tokens was destroyed once they were revoked, never that none was signed with it', async () => {
    const data = join(folder(), 'data');
    const tokens: string[] = [];
    for (const subject of ['alice', 'bob']) {
      const made = await cli(['token', 'create', '--role', 'auditor', '--subject', subject, '--ttl', '1h', '--data', data]);
      expect(made.code, made.err).toBe(0);
      tokens.push(made.out);
    }
    const kid = decodeProtectedHeader(tokens[0]!).kid!;
    const withdrawn = await cli(['token', 'rotate-key', '--data', data, '--withdraw-previous']);
    expect(withdrawn.code, withdrawn.err).toBe(0);
    expect(withdrawn.err).toContain('2 token(s) signed with the previous key(s) revoked: issue new ones');
    expect(withdrawn.err).not.toContain('no live token was signed with it');
    expect(withdrawn.err).toContain(`key ${kid} withdrawn: every token it signed was revoked, then the key destroyed`);
  });

  it('without it, a key no live token was signed with is still said so', async () => {
    const data = join(folder(), 'data');
    const first = await cli(['token', 'create', '--role', 'auditor', '--subject', 'alice', '--ttl', '1h', '--data', data]);
    expect(first.code, first.err).toBe(0);
    const kid = decodeProtectedHeader(first.out).kid!;
    const { jti } = JSON.parse(Buffer.from(first.out.split('.')[1]!, 'base64url').toString()) as { jti: string };
    const revoked = await cli(['token', 'revoke', jti, '--data', data]);
    expect(revoked.code, revoked.err).toBe(0);
    const rotated = await cli(['token', 'rotate-key', '--data', data]);
    expect(rotated.code, rotated.err).toBe(0);
    expect(rotated.err).toContain(`key ${kid} destroyed: no live token was signed with it`);
  });
});
