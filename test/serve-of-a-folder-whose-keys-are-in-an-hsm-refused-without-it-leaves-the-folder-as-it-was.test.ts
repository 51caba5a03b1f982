/**
 * Review 49: `credence serve` (the embedded Secure Environment by default) on a folder whose transparency log key is in
 * an HSM (transparency.handle) was refused, rightly, but only after it had made an empty embedded Secure Environment
 * in it (secure-environment.kek, .sqlite, .wrapping-keys). The same for an access.db naming a signing key the folder's
 * Secure Environment does not hold. Both are now refused before anything is opened: the folder is as it was.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-serve-hsm-folder-');

/** Every file of the folder with the SHA-256 of its content, and its subfolders' names. */
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => {
        const path = join(dir, name);
        return [name, statSync(path).isDirectory() ? 'folder' : createHash('sha256').update(readFileSync(path)).digest('hex')];
      }),
  );

const serve = (data: string) => runCli(['serve', '--data', data, '--port', '0', '--log-level', 'silent']);

describe('credence serve without --secure-environment on a folder whose keys are in an HSM', () => {
  it('is refused for its transparency.handle, the folder unchanged (no embedded Secure Environment made)', async () => {
    const data = join(scratch(), 'data');
    mkdirSync(data);
    // What a PKCS#11 start leaves (adapters/runtime/transparency-key.ts); the refusal needs no HSM.
    writeFileSync(join(data, 'transparency.handle'), 'c2xvdC0xLWtleQ\n');
    writeFileSync(join(data, 'transparency.pub'), 'credence.local/log+0123abcd+AQID\n');
    const before = snapshot(data);
    const refused = await serve(data);
    expect(refused.err).toContain('is in its Secure Environment (transparency.handle names it)');
    expect(refused.code).not.toBe(0);
    expect(snapshot(data)).toEqual(before);
  });

  it('is refused for an access.db naming a key the folder does not hold, the folder unchanged', async () => {
    const dir = scratch();
    const data = join(dir, 'data');
    expect((await runCli(['token', 'create', '--role', 'admin', '--subject', 'first-admin', '--ttl', '1h', '--data', data])).code).toBe(0);
    mkdirSync(join(dir, 'elsewhere'));
    for (const name of readdirSync(data).filter((n) => n.startsWith('secure-environment'))) renameSync(join(data, name), join(dir, 'elsewhere', name));
    const before = snapshot(data);
    const refused = await serve(data);
    expect(refused.err).toContain('recorded in access.db is missing');
    expect(refused.code).not.toBe(0);
    expect(snapshot(data)).toEqual(before);
  });
});
