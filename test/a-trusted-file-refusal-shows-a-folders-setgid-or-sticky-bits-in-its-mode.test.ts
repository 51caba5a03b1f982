/**
 * Review 333 (low, cosmetic): a refusal of a trusted file's folder or of the file itself printed its mode masked with
 * 0o777, so a folder of mode 2775 was said to be 0775, not the mode `ls` and `stat` show. The special bits are shown now.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withTrustedFile } from '../adapters/driven/files/trusted-file.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-trusted-mode-');

describe.skipIf(process.platform === 'win32')('a trusted file refused for who may write it', () => {
  it('names a setgid folder by its whole mode (2775, not 0775)', () => {
    const dir = join(scratch(), 'shared');
    mkdirSync(dir);
    chmodSync(dir, 0o2775);
    const file = join(dir, 'policy.json');
    writeFileSync(file, '{}', { mode: 0o600 });
    const read = withTrustedFile(file, () => undefined);
    expect(read.ok).toBe(false);
    expect(read.ok ? '' : read.message).toContain('which group or others may write (mode 2775)');
  });

  it('names a setuid file by its whole mode (4666, not 0666)', () => {
    const dir = join(scratch(), 'private');
    mkdirSync(dir, { mode: 0o700 });
    const file = join(dir, 'policy.json');
    writeFileSync(file, '{}');
    chmodSync(file, 0o4666);
    const read = withTrustedFile(file, () => undefined);
    expect(read.ok ? '' : read.message).toContain('may be written by group or others (mode 4666)');
  });
});
