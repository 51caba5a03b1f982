import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { formatVerifierKey } from '../domain/transparency/index.ts';
import { capture } from './support/cli.ts';
import { fixedSigner, keyOf, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 296 item 4c: `verify --data` given a path that does not exist said it "holds no event store and transparency
 * log", as of a folder. A missing path is said not to exist, and a file not to be a folder (exit 2, bad usage).
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());
const KEY = formatVerifierKey(keyOf(fixedSigner(1)));

const verify = async (dir: string) => {
  const c = capture();
  return { code: await verifyCommand(['--data', dir, '--key', KEY], c.io), err: c.err.join('\n') };
};

describe('verify --data PATH where PATH is no folder', () => {
  it('a path that does not exist: says so (exit 2)', async () => {
    const missing = join(dirs.make(), 'no-such-folder');
    const result = await verify(missing);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`--data: ${missing} does not exist`);
    expect(result.err).not.toContain('holds no');
  });

  it('a file: says it is not a folder (exit 2)', async () => {
    const file = join(dirs.make(), 'events.json');
    writeFileSync(file, '{}');
    const result = await verify(file);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`--data: ${file} is not a folder`);
    expect(result.err).not.toContain('holds no');
  });

  it('an empty folder still holds no event store and transparency log', async () => {
    const dir = dirs.make();
    const result = await verify(dir);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`--data: ${dir} holds no event store and transparency log`);
  });
});
