import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 271: `credence token create --data PATH` with a mistyped PATH silently made a new data folder (a KEK, a
 * Secure Environment, a signing key) and printed an admin token no service accepts. Making the folder stays (the
 * docs issue a folder's first admin token with or without a service on it, and a folder holding only what `token
 * create` put there is one a first start takes), but it is said on stderr, naming the folder, so a typo shows at once.
 * stdout is still the token alone.
 */

const scratch = temporaryFolders('credence-token-new-folder-');
const create = (data: string, extra: string[] = []) => runCli(['token', 'create', '--role', 'admin', '--subject', 'root', '--ttl', '1h', '--data', data, ...extra]);

describe('credence token create on a data folder that does not exist', () => {
  it('makes it and says so on stderr, naming it; stdout is the token alone', async () => {
    const data = join(scratch(), 'dtaa');
    const r = await create(data);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(r.err).toContain(`note: made a new data folder at ${data}`);
    expect(r.err).toMatch(/^issued tok_/);
    expect(existsSync(join(data, 'access.db'))).toBe(true);
  });

  it('says so with --json too, on stderr, the JSON on stdout untouched', async () => {
    const data = join(scratch(), 'new');
    const r = await create(data, ['--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ role: 'admin', subject: 'root' });
    expect(r.err).toContain(`note: made a new data folder at ${data}`);
  });

  it('says nothing of the kind for a folder that was there, empty or served', async () => {
    const data = join(scratch(), 'made-first');
    mkdirSync(data, { mode: 0o700 });
    const first = await create(data);
    expect(first.code, first.err).toBe(0);
    expect(first.err).not.toContain('new data folder');
    const again = await create(data);
    expect(again.code, again.err).toBe(0);
    expect(again.err).not.toContain('new data folder');
  });
});
