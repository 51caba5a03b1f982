/**
 * Found in review: `credence token create --data DIR --ttl 99999d` said `--ttl: at most 7776000 seconds` (exit 2)
 * but had already made DIR with a Secure Environment (KEK, key database) and access.db with a signing key: the
 * lifetime was checked only once the access control was open. A rejected command writes nothing.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-token-refused-');

describe('credence token create refused for its lifetime', () => {
  it('given no data folder, when --ttl is past the default longest lifetime, then exit 2 and no folder is made', async () => {
    const data = join(folder(), 'data');
    const r = await runCli(['token', 'create', '--data', data, '--role', 'admin', '--subject', 'a', '--ttl', '99999d']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toBe('error: --ttl: at most 7776000 seconds');
    expect(r.out).toBe('');
    expect(existsSync(data)).toBe(false);
  });

  it('given a --config whose tokens.maxTtlSeconds is an hour, when --ttl is 2h, then exit 2 and no folder is made', async () => {
    const dir = folder();
    const data = join(dir, 'data');
    const config = join(dir, 'credence.json');
    writeFileSync(config, JSON.stringify({ data, tokens: { maxTtlSeconds: 3600 } }));
    const r = await runCli(['token', 'create', '--config', config, '--role', 'admin', '--subject', 'a', '--ttl', '2h']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toBe('error: --ttl: at most 3600 seconds');
    expect(existsSync(data)).toBe(false);
  });

  it('given the same --config, when --ttl is within it, then the token is issued (the check is the bound, not a refusal of all)', async () => {
    const dir = folder();
    const data = join(dir, 'data');
    const config = join(dir, 'credence.json');
    writeFileSync(config, JSON.stringify({ data, tokens: { maxTtlSeconds: 3600 } }));
    const r = await runCli(['token', 'create', '--config', config, '--role', 'admin', '--subject', 'a', '--ttl', '1h']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(existsSync(join(data, 'access.db'))).toBe(true);
  });
});
