/**
 * The readers of trusted files (the service's configuration file, the request-signing policy) told a file
 * that cannot be read (`readable`) from one that breaks a rule (`trusted_file`, `signing_policy`) by the text of the
 * refusal, which names the file, and a file's name may hold any text: a policy at `cannot read policy.json` that is
 * not JSON was refused as unreadable, and a missing configuration file whose name holds `invalid_utf8` was said to be
 * "not valid UTF-8 text". The reader now says which problem it is in a typed `kind` (the errno `code` of an
 * unreadable one), the messages as they were.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { signingPolicyOf } from '../adapters/http/service-signing-policy.ts';
import { readConfigFile } from '../adapters/http/config-file.ts';
import { withTrustedFile } from '../adapters/driven/files/index.ts';
import { readTrustedJsonFile, readTrustedTextFile, readTrustedTextFileOrPipe } from '../adapters/runtime/bounded-files.ts';
import { readSigningPolicyFile } from '../adapters/runtime/signing-policy-file.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { validationIssuesOf as issuesOf } from './support/validation-issues.ts';

const scratch = temporaryFolders('credence-refusal-kind-');

/** `run` with the working folder at `dir` (synchronous: nothing else in this worker runs meanwhile). */
const inFolder = <T>(dir: string, run: () => T): T => {
  const before = process.cwd();
  process.chdir(dir);
  try {
    return run();
  } finally {
    process.chdir(before);
  }
};

describe('a trusted file refused is told by the kind of its refusal, not by the words of its message', () => {
  it('a signing policy at a path starting `cannot read ` that is not JSON is refused by signing_policy, not as unreadable', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'cannot read policy.json'), 'require: all', { mode: 0o600 });
    const issues = inFolder(dir, () => issuesOf(() => loadServiceConfig({ flags: { signing: 'cannot read policy.json' } })));
    expect(issues).toEqual([{ path: 'flag --signing', rule: 'signing_policy', message: expect.stringMatching(/^cannot read policy\.json is not JSON/) }]);
  });

  it("a missing policy is `readable` both where the configuration is checked and where the start reads it (review 451)", () => {
    const file = join(scratch(), 'missing-policy.json');
    expect(issuesOf(() => loadServiceConfig({ flags: { signing: file } }))).toEqual([{ path: 'flag --signing', rule: 'readable', message: `cannot read ${file}: ENOENT` }]);
    expect(issuesOf(() => signingPolicyOf({ signing: file } as Parameters<typeof signingPolicyOf>[0]))).toEqual([{ path: 'signing', rule: 'readable', message: `cannot read ${file}: ENOENT` }]);
  });

  it('one at such a path that others may write is refused by signing_policy, naming the rule as before', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'cannot read policy.json'), '{}');
    chmodSync(join(dir, 'cannot read policy.json'), 0o666);
    const issues = inFolder(dir, () => issuesOf(() => loadServiceConfig({ flags: { signing: 'cannot read policy.json' } })));
    expect(issues).toEqual([
      { path: 'flag --signing', rule: 'signing_policy', message: 'cannot read policy.json may be written by group or others (mode 0666): they choose what it trusts; chmod go-w cannot read policy.json' },
    ]);
  });

  it('a signing policy that does not exist is still `readable`, its message as before', () => {
    const gone = join(scratch(), 'gone.json');
    expect(issuesOf(() => loadServiceConfig({ flags: { signing: gone } }))).toEqual([{ path: 'flag --signing', rule: 'readable', message: `cannot read ${gone}: ENOENT` }]);
  });

  it('a configuration file missing under a name holding `invalid_utf8` is said not to exist, not to be invalid UTF-8', () => {
    const file = join(scratch(), 'invalid_utf8.json');
    expect(issuesOf(() => readConfigFile(file, 300))).toEqual([{ path: `file ${file}`, rule: 'readable', message: 'cannot be read: it does not exist (ENOENT)' }]);
  });

  it('a configuration file that is not UTF-8 is still said to be so, and one others may write still breaks trusted_file', () => {
    const dir = scratch();
    const bad = join(dir, 'credence.json');
    writeFileSync(bad, Buffer.from([0x7b, 0xff, 0x7d]), { mode: 0o600 });
    expect(issuesOf(() => readConfigFile(bad, 300))).toEqual([{ path: `file ${bad}`, rule: 'readable', message: 'cannot be read: it is not valid UTF-8 text (RFC 8259 8.1)' }]);
    const loose = join(dir, 'cannot read x: ENOENT');
    writeFileSync(loose, '{}');
    chmodSync(loose, 0o646);
    expect(issuesOf(() => readConfigFile(loose, 300))).toEqual([
      { path: `file ${loose}`, rule: 'trusted_file', message: `${loose} may be written by group or others (mode 0646): they choose what it trusts; chmod go-w ${loose}` },
    ]);
  });

  it('the readers say the kind, and the errno code of a file that cannot be read, beside the message', () => {
    const dir = scratch();
    const gone = join(dir, 'gone');
    expect(withTrustedFile(gone, () => 'read')).toEqual({ ok: false, kind: 'unreadable', code: 'ENOENT', message: `cannot read ${gone}: ENOENT` });
    expect(readTrustedTextFile(gone, 10)).toEqual({ ok: false, kind: 'unreadable', code: 'ENOENT', message: `cannot read ${gone}: ENOENT` });
    const loose = join(dir, 'loose');
    writeFileSync(loose, '{}');
    chmodSync(loose, 0o666);
    expect(readTrustedTextFile(loose, 10)).toMatchObject({ ok: false, kind: 'trusted_file', message: expect.stringContaining('may be written by group or others') });
    const big = join(dir, 'big');
    writeFileSync(big, '0123456789ab', { mode: 0o600 });
    expect(readTrustedTextFile(big, 10)).toEqual({ ok: false, kind: 'too_large', message: `${big} is larger than 10 bytes` });
    expect(readTrustedTextFileOrPipe(big, 10, 100)).toEqual({ ok: false, kind: 'too_large', message: `${big} is larger than 10 bytes` });
    const latin1 = join(dir, 'latin1');
    writeFileSync(latin1, Buffer.from([0xe9]), { mode: 0o600 });
    expect(readTrustedTextFile(latin1, 10)).toEqual({ ok: false, kind: 'invalid_utf8', message: `${latin1}: invalid_utf8: the file is not valid UTF-8 text (RFC 8259 8.1)` });
    const text = join(dir, 'text');
    writeFileSync(text, 'require', { mode: 0o600 });
    expect(readTrustedJsonFile(text, 10)).toMatchObject({ ok: false, kind: 'content', message: expect.stringMatching(/is not JSON/) });
    expect(readSigningPolicyFile(text)).toMatchObject({ ok: false, kind: 'content' });
    writeFileSync(text, '{}');
    expect(readSigningPolicyFile(text)).toMatchObject({ ok: false, kind: 'fields' });
  });
});
