import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { isCredenceError } from '../domain/errors.ts';
import { readCertificates } from '../bin/commands/ca-files.ts';

// SER-001, found in review: `ca install --certificate` and `--config` checked a file's size with stat and then read
// it whole. A device or a FIFO has no size (/dev/zero reports 0), so the bound never applied and the read ran until
// memory ran out (6.5 GB in 30 s). Both are now bounded while they read.

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('files named on the command line are bounded while read, not by their reported size', () => {
  it('a certificate file that never ends is refused at the bound, naming the flag', () => {
    expect(() => readCertificates('--certificate', '/dev/zero')).toThrow('--certificate: /dev/zero is larger than 65536 bytes');
  });

  // Review 324 item 1: the configuration file is a trusted file, so a device (/dev/zero, which anyone may write) is
  // refused as no regular file before a byte is read; a file over the bound is still refused naming max_bytes.
  it('a configuration file that never ends is refused before it is read, and one over the bound at the bound, naming the file and the rule', () => {
    const problemOf = (file: string): string => {
      try {
        loadServiceConfig({ file });
      } catch (e) {
        expect(isCredenceError(e, 'validation')).toBe(true);
        return JSON.stringify((e as { problem: unknown }).problem);
      }
      throw new Error('accepted');
    };
    expect(problemOf('/dev/zero')).toContain('"path":"file /dev/zero","rule":"trusted_file","message":"/dev/zero is not a regular file: name the file itself"');
    const dir = mkdtempSync(join(tmpdir(), 'credence-bounded-config-'));
    dirs.push(dir);
    const file = join(dir, 'credence.json');
    writeFileSync(file, `{"port": 8123${' '.repeat(64 * 1024)}}`);
    expect(problemOf(file)).toContain('"rule":"max_bytes"');
  });

  it('a configuration file within the bound is still read, and one that is missing says it cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-bounded-config-'));
    dirs.push(dir);
    const file = join(dir, 'credence.json');
    writeFileSync(file, JSON.stringify({ port: 8123 }));
    expect(loadServiceConfig({ file }).port).toBe(8123);
    expect(() => loadServiceConfig({ file: join(dir, 'missing.json') })).toThrow(/cannot be read/);
  });
});
